//! Parser benchmarks; the messages and groups land with the SIP core's benchmark work.
fn main() {}
