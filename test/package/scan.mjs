// Runs n8n's own static analysis (the one n8n runs before verifying a community package) on an
// unpacked package folder, and prints the result as JSON.
import { analyzePackage } from '@n8n/scan-community-package/scanner/scanner.mjs';

const result = await analyzePackage(process.argv[2]);
process.stdout.write(JSON.stringify({ passed: result.passed, message: result.message, details: result.details }));
process.exit(0);
