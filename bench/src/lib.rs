//! The parts of the benches that their binaries share: the account-scale bench
//! (`make bench-scale`). The Lambda Runtime API stub they run the functions under is
//! `local::runtime_api` (the tests use it too).

pub mod scale;
