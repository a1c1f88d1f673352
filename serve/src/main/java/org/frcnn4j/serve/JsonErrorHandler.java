package org.frcnn4j.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * The errors Jetty answers itself, before a request reaches the service's routes (an ambiguous or malformed path such
 * as {@code /../etc/passwd}, a header too large): the same JSON body as every other error of the API,
 * {@code {"error": message, "status": n}}, instead of Jetty's HTML page.
 */
final class JsonErrorHandler extends ErrorHandler {
    private final ObjectMapper mapper;

    JsonErrorHandler(ObjectMapper mapper) {
        this.mapper = mapper;
    }

    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
                                    Callback callback) throws java.io.IOException {
        String reason = message != null && !message.isBlank() ? message
                : org.eclipse.jetty.http.HttpStatus.getMessage(code);
        byte[] body = mapper.writeValueAsBytes(mapper.createObjectNode().put("error", reason.toLowerCase(java.util.Locale.ROOT))
                .put("status", code));
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.write(true, ByteBuffer.wrap(body), callback);
    }
}
