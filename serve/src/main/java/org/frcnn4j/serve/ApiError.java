package org.frcnn4j.serve;

/**
 * A request the service answers with an error status and a JSON body {@code {"error": message, "status": n}}.
 *
 * @see DetectionServer
 */
final class ApiError extends RuntimeException {
    private final int status;
    private final Integer retryAfterSeconds;

    ApiError(int status, String message) {
        this(status, message, null);
    }

    ApiError(int status, String message, Integer retryAfterSeconds) {
        super(message);
        this.status = status;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    int status() {
        return status;
    }

    /** Seconds a client should wait before it tries again (sent as Retry-After), or null. */
    Integer retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
