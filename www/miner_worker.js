// The mining worker's entry: loads the miner's wasm-bindgen glue and its wasm, which then
// posts `Ready` to the page. (trunk's own loader shim passes the wasm path the way
// wasm-bindgen 0.2.130 warns is deprecated.)
importScripts("./miner.js");
wasm_bindgen({ module_or_path: "./miner_bg.wasm" });
