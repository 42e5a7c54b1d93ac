import Glibc
import Testing
@testable import MemguardCore

@Suite("Reading config.json as runc would")
struct KeyAuditTests {
    func audit(_ text: String) -> String? {
        do {
            try KeyAudit.check(Array(text.utf8), what: "config.json")
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [
        #"{"annotations":{"io.memguard.monitor":"true"},"annotations":{"x":"y"}}"#,
        #"{"annotations":{},"Annotations":{"io.memguard.monitor":"true"}}"#,
        #"{"linux":{"seccomp":{}},"Linux":{"seccomp":null}}"#,
        #"{"linux":{"seccomp":{},"Seccomp":null}}"#,
        #"{"annotations":{"io.memguard.monitor":"true","io.memguard.monitor\u0000x":"false"}}"#,
        #"{"hooks":{"poststop":[],"PostStop":[]}}"#,
        // One key, spelled otherwise: Go folds case (and ſ, K) onto the field, json-c does not.
        #"{"Annotations":{"io.memguard.monitor":"true"}}"#,
        "{\"annotation\u{17F}\":{\"io.memguard.monitor\":\"true\"}}",
        "{\"hoo\u{212A}s\":{\"poststop\":[]}}",
        #"{"LINUX":{"seccomp":{}}}"#,
        #"{"linux":{"Seccomp":{}}}"#,
        #"{"hooks":{"CreateRuntime":[]}}"#,
        "{\"hooks\":{\"po\u{17F}tstop\":[]}}",
        // A NUL ends the key for json-c: its "annotations" would be this one, Go's the real one.
        #"{"annotations":{"io.memguard.monitor":"true"},"annotations\u0000":{"x":"y"}}"#,
        #"{"linux":{},"linux\u0000x":{"seccomp":null}}"#,
    ])
    func ambiguitiesAreRefused(text: String) {
        #expect(audit(text)?.contains("ambiguous") == true, "\(audit(text) ?? "accepted")")
    }

    @Test(arguments: [
        #"{"annotations":{"io.memguard.monitor":"true","other":"x"},"process":{"args":["a"]}}"#,
        #"{"x":{"annotations":1,"Annotations":2},"annotations":{"a":"1","A":"2"}}"#,
        #"{"deep":"# + String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000) + "}",
        "not json at all",
        #"{"annotations":{"other":"1","other":"2"}}"#,
        #"{"hooks":{"createRuntime":[],"poststop":[]},"linux":{"seccomp":{},"Resources":{}}}"#,
        "{\"annotations\":{\"io.memguard.monitor\":\"true\",\"\u{17F}\":\"x\"}}",
    ])
    func ordinaryOrForeignShapesPass(text: String) {
        #expect(audit(text) == nil)
    }

    @Test func goFoldsLikeEncodingJSON() {
        #expect(KeyAudit.goFold("AnNotations") == "annotations")
        #expect(KeyAudit.goFold("annotation\u{17F}") == "annotations")
        #expect(KeyAudit.goFold("hoo\u{212A}s") == "hooks")
        #expect(KeyAudit.goFold("\u{130}") == "\u{130}")
    }

    @Test func lenientParsingAcceptsWhatGoAccepts() throws {
        var bytes = Array(#"{"process":{"env":["LANG=caf"#.utf8) + [0xE9] + Array(#""]},"annotations":{"io.memguard.monitor":"true"}}"#.utf8)
        let config = try OCIConfig(bytes: bytes, what: "config.json")
        #expect(try config.annotations(what: "config.json")["io.memguard.monitor"] == "true")
        bytes = Array(#"{"x":"#.utf8) + Array(String(repeating: "[", count: 100).utf8) + Array(String(repeating: "]", count: 100).utf8) + [UInt8(ascii: "}")]
        _ = try OCIConfig(bytes: bytes, what: "config.json")
    }

    @Test func aFIFOIsRefusedNotWaitedOn() throws {
        let path = "/tmp/memguard-fifo-\(getpid())"
        mkfifo(path, 0o600)
        defer { unlink(path) }
        #expect(throws: MemguardError.self) { try FileSystem.readFile(path) }
    }
}
