// `npm run build`: hop3 runs it after installing the dependencies (package.json has a build script).
require('node:fs').writeFileSync('build.txt', `built by npm run build with escape-html ${require('escape-html/package.json').version}\n`);
