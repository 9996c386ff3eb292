// Browsers and bundlers: the module is fetched next to this file (bundlers copy it as an asset).
import init from "./gatehouse_web.js";

await init({ module_or_path: new URL("./gatehouse_web_bg.wasm", import.meta.url) });

export * from "./api.js";
