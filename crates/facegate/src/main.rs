//! The `facegate` command line.

fn main() {}
