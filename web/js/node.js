// Node: the module is read from the package's directory.
import { readFile } from "node:fs/promises";
import { initSync } from "./gatehouse_web.js";

initSync({ module: await readFile(new URL("./gatehouse_web_bg.wasm", import.meta.url)) });

export * from "./api.js";
