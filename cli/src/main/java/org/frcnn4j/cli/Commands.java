package org.frcnn4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import org.frcnn4j.data.ImageIds;
import org.frcnn4j.io.AtomicFiles;

/** Output helpers the commands share. */
final class Commands {
    private Commands() {}

    /** The decoded image, or null after one line on {@code err} naming the file and why it could not be read. */
    static java.awt.image.BufferedImage reportIfUnread(org.frcnn4j.data.ImagesAhead.Decoded decoded, PrintWriter err) {
        if (decoded.error() != null) {
            err.println("frcnn: error: " + decoded.error().getMessage());
            return null;
        }
        return decoded.image();
    }

    /**
     * The image id of an input file ({@link ImageIds}), with a note on {@code err} when its name was taken already.
     */
    static String uniqueId(Path file, java.util.Map<String, Path> taken, PrintWriter err) {
        String stem = ImageIds.stem(file.getFileName().toString());
        String id = ImageIds.unique(stem, taken::containsKey);
        if (!id.equals(stem)) {
            err.println("frcnn: note: " + file + " has the name of " + taken.get(stem) + "; its image_id is '" + id + "'");
        }
        taken.put(id, file);
        return id;
    }

    /**
     * Checks an output file before the work that fills it (a folder given as {@code --json} is refused at once, not after
     * an hour of detection): not one of the inputs, and writable.
     */
    static void checkOutputFile(String option, Path output, java.util.List<Path> inputs) throws IOException {
        if (output == null) {
            return;
        }
        refuseOutputAmongInputs(option, output, inputs);
        AtomicFiles.checkWritable(output);
    }

    /**
     * Refuses an output file that is one of the inputs ({@code --json photo.jpg photo.jpg} would replace the photo with
     * its own detections).
     */
    private static void refuseOutputAmongInputs(String option, Path output, java.util.List<Path> inputs) {
        if (output == null) {
            return;
        }
        Path out = output.toAbsolutePath().normalize();
        for (Path in : inputs) {
            boolean same = in.toAbsolutePath().normalize().equals(out);
            try {
                same |= java.nio.file.Files.exists(output) && java.nio.file.Files.exists(in)
                        && java.nio.file.Files.isSameFile(output, in);
            } catch (IOException e) {
                // unreadable: the input's own error will say so
            }
            if (same) {
                throw new org.frcnn4j.io.BadInputException(option + " " + output + " is also an input image; refusing to "
                        + "replace it: write the results to another file");
            }
        }
    }

    /** Pretty JSON to {@code file} (atomically) or, when it is null, to {@code out}. */
    static void writeJson(ObjectMapper mapper, JsonNode node, Path file, PrintWriter out) throws IOException {
        if (file == null) {
            out.println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(node));
            out.flush();
        } else {
            AtomicFiles.write(file, mapper.writerWithDefaultPrettyPrinter().writeValueAsBytes(node));
        }
    }
}
