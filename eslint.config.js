// Lint rules: type-aware checks everywhere, and determinism guards for workflow code.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".cache/**", ".countersign/**", "bin/**", "eslint.config.js"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/only-throw-error": "error",
    },
  },
  {
    // Tests read arbitrary JSON responses and assert on them.
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O libraries,
    // no wall-clock or randomness outside the SDK's replay-safe versions.
    files: ["workflows/**/*.ts", "test/fixtures/workflow-variants/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*", "fs", "path", "crypto", "os", "http", "https", "net", "child_process"], message: "Workflow code must not use Node built-ins." },
            { group: ["jose", "@slack/*", "zod", "@cedar-policy/*", "pino", "hono", "@hono/*", "canonicalize", "yaml"], message: "Workflow code must stay deterministic: do this in an activity." },
            { group: ["../src/*", "../activities/*", "../worker/*"], message: "Workflows import only workflows/ and @temporalio/workflow (activities as types)." , allowTypeImports: true },
          ],
        },
      ],
      "no-restricted-globals": ["error", { name: "setTimeout", message: "Use sleep() from @temporalio/workflow." }, { name: "setInterval", message: "Use workflow timers." }, { name: "fetch", message: "No I/O in workflows." }],
    },
  },
);
