// Node-RED settings for bench/compare.sh: headless, nothing listening.
//
// With httpAdminRoot and httpNodeRoot both false Node-RED opens no HTTP
// server at all (red.js logs "headless mode"), so neither the editor nor
// the admin API exists; uiHost is still loopback in case a later version
// opens one anyway.  The flow file and userDir come from the command line
// (a private temporary directory per run).
module.exports = {
    uiHost: "127.0.0.1",
    uiPort: 0,
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    // Flows carry no secrets; without a key Node-RED would generate one and
    // write it into the userDir at the first start.
    credentialSecret: false,
    // No update check or usage report to the Node-RED project: the
    // benchmark sends nothing off the machine.
    telemetry: { enabled: false },
    diagnostics: { enabled: false, ui: false },
    externalModules: {
        autoInstall: false,
        palette: { allowInstall: false, allowUpload: false },
        modules: { allowInstall: false }
    },
    functionExternalModules: false,
    // "info" still prints "Started flows", which compare.sh waits for; the
    // flow itself logs nothing per message.
    logging: { console: { level: "info", metrics: false, audit: false } },
    contextStorage: { default: { module: "memory" } },
    editorTheme: { projects: { enabled: false } }
};
