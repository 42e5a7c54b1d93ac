import MemguardCore
import MemguardSeccomp

/// One fuzz input through memguard's parsers of hostile input: the first byte picks the parser,
/// the rest is its input. Errors are expected; crashes, hangs and leaks are what the fuzzer looks
/// for. Shared by the libFuzzer target (memguard-fuzz) and the corpus regression test.
public enum FuzzOne {
    public static func run(_ data: [UInt8]) {
        guard let selector = data.first else { return }
        let input = Array(data.dropFirst())
        switch selector % 7 {
        case 0:
            // The hook's stdin, and what it derives from it.
            if let state = try? OCIState(json: input) {
                _ = try? ContainerID(state.id)
                _ = try? MonitorSettings(annotations: state.annotations)
            }
        case 1:
            _ = try? HostConfig(bytes: input, path: "memguard.json")
        case 2:
            if let profile = try? SeccompProfile(bytes: input, what: "profile") {
                _ = try? SeccompCompiler.check(profile, what: "profile")
                if let merged = try? WXDeny.apply(to: profile) { _ = try? SeccompCompiler.check(merged, what: "merged") }
            }
        case 3:
            // The wrapper's reading of a bundle's config.json.
            _ = try? KeyAudit.check(input, what: "config.json")
            if let config = try? OCIConfig(bytes: input, what: "config.json"), let notes = try? config.annotations(what: "config.json") {
                _ = try? MonitorSettings(annotations: notes)
            }
        case 4:
            _ = try? Baseline(bytes: input, what: "baseline")
        case 5:
            // Ids and hostile strings in log lines: the line must stay one parseable line.
            let text = String(decoding: input, as: UTF8.self)
            if let id = try? ContainerID(text) {
                precondition(!id.fileName.contains("/") && !id.fileName.hasPrefix("."), "unsafe file name for \(text)")
            }
            var line = JSONLine()
            line.add("v", text)
            let rendered = line.rendered
            precondition(!rendered.contains("\n"), "a newline escaped into a log line")
            let doc = try? JSONDocument(parsing: Array(rendered.utf8), what: "line")
            precondition(doc?.root["v"]?.string == text, "a log line does not round-trip")
        default:
            _ = try? StateRecord(text: String(decoding: input, as: UTF8.self), path: "state")
        }
    }
}
