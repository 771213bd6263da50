"""What is kept on disk: checkpoints (header, schema, load and save), where a training writes, saves on a shared
server."""
