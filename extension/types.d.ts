// The root tsconfig only loads Node's types; the extension also needs VS Code's.
/// <reference types="vscode" />
