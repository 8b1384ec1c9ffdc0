#!/usr/bin/env node
// Runs the TypeScript sources directly (Node 24 strips the types); see package.json "engines".
import '../src/main.ts'
