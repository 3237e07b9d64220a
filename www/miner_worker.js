// The mining worker's entry: loads one of the miner's two builds, its wasm-bindgen glue and
// its wasm, which then posts `Ready` (naming its search) to the page. (trunk's own loader
// shim passes the wasm path the way wasm-bindgen 0.2.130 warns is deprecated.)
//
// miner_simd searches four nonces at once with wasm SIMD; a browser without SIMD would
// refuse that whole module, so it gets the scalar build, miner. The page adds ?simd=off to
// this script's URL to ask for the scalar build anyway.

// A module whose one function returns i8x16.popcnt(i8x16.splat(0)): valid only where the
// browser has (final) wasm SIMD. The same probe as the wasm-feature-detect library's.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

const simdWanted = new URLSearchParams(self.location.search).get("simd") !== "off";
const build = simdWanted && WebAssembly.validate(SIMD_PROBE) ? "miner_simd" : "miner";
importScripts(`./${build}.js`);
wasm_bindgen({ module_or_path: `./${build}_bg.wasm` });
