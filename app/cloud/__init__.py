"""Azure behind a small interface: ids, domain shapes, and the one module that imports the SDK."""
