//! Message bodies callcomp reads and writes. (to be written)
