// The one door to cedar-wasm: every call into Cedar's WebAssembly goes through this module, which
// first turns off V8's inlining of JS→Wasm calls for the process.
//
// Why: with that inlining (on by default in Node 20 and 22), a JavaScript frame that called into
// cedar-wasm and is deoptimized lazily while the call runs (its assumptions invalidated by code the
// call ran, e.g. cedar's JSON glue) makes V8 abort the process ("Fatal error … unreachable code" in
// Deoptimizer::DoComputeBuiltinContinuation). A worker died every few thousand decisions; the
// decisions test (test/policy/entity-slice.test.ts) crashed on every run. With the flag off: no
// crash in 20,000+ decisions (bench/soak.ts). Only this one optimisation is off, not TurboFan inlining
// in general. The flag is read when a function is optimised: set here, before any code that calls
// Cedar is hot.
import { setFlagsFromString } from "node:v8";

setFlagsFromString("--no-turbo-inline-js-wasm-calls");

export {
  checkParseEntities,
  checkParseSchema,
  policySetTextToParts,
  policyToJson,
  preparsePolicySet,
  preparseSchema,
  statefulIsAuthorized,
  validate,
  type AuthorizationAnswer,
  type Context,
  type DetailedError,
  type EntityJson,
} from "@cedar-policy/cedar-wasm/nodejs";
