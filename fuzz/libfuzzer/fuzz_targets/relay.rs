#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tabchain_fuzz::relay(data));
