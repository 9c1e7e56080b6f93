// A hash of what the setup custom resource installs (the files in kibana/ and the setup
// function's zip), given to the resource as a property: when it changes, CloudFormation
// sends an Update and the domain is set up again; when it does not, nothing runs.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

module.exports = () => {
  const hash = crypto.createHash('sha256');
  const files = [
    path.join(__dirname, '../kibana/index-template.json'),
    path.join(__dirname, '../kibana/dashboards.ndjson'),
    process.env.SETUP_ZIP || path.join(__dirname, '../target/lambda/setup/bootstrap.zip'),
  ];
  for (const file of files) {
    hash.update(fs.readFileSync(file));
  }
  return { hash: hash.digest('hex').slice(0, 16) };
};
