import Testing
@testable import MemguardCore

@Suite("OCI state JSON from the runtime")
struct OCIStateTests {
    func parse(_ text: String) throws -> OCIState { try OCIState(json: Array(text.utf8)) }

    func error(_ text: String) -> String {
        do {
            _ = try parse(text)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func parsesRuncCreateRuntimeState() throws {
        let state = try parse("""
        {"ociVersion":"1.0.2-dev","id":"web-1","status":"creating","pid":4242,"bundle":"/run/b/web-1",
         "annotations":{"io.memguard.monitor":"true","io.memguard.mode":"enforce","other":"x"}}
        """)
        #expect(state.id == "web-1")
        #expect(state.pid == 4242)
        #expect(state.status == "creating")
        #expect(state.bundle == "/run/b/web-1")
        #expect(state.annotations["io.memguard.mode"] == "enforce")
    }

    @Test func poststopStateHasNoPid() throws {
        let state = try parse(#"{"ociVersion":"1.0.2","id":"a","status":"stopped","bundle":"/b"}"#)
        #expect(state.pid == nil)
        #expect(state.annotations.isEmpty)
    }

    @Test(arguments: [
        ("", "is empty"),
        ("{", "not valid JSON"),
        (#"{"id":"a""#, "not valid JSON"),
        (#"{"id":"a"} trailing"#, "not valid JSON"),
        ("[1,2]", "not an object"),
        (#"{"ociVersion":"1","status":"creating"}"#, #"no "id""#),
        (#"{"ociVersion":"1","id":7,"status":"creating"}"#, #""id" is a int"#),
        (#"{"ociVersion":"1","id":"a","status":"creating","pid":"12"}"#, #""pid" is not a positive process id"#),
        (#"{"ociVersion":"1","id":"a","status":"creating","pid":-3}"#, #""pid" is not a positive process id"#),
        (#"{"ociVersion":"1","id":"a","status":"creating","pid":1.5}"#, #""pid" is not a positive process id"#),
        (#"{"ociVersion":"1","id":"a","status":"creating","annotations":[]}"#, #""annotations" is a array"#),
        (#"{"ociVersion":"1","id":"a","status":"creating","annotations":{"io.memguard.monitor":true}}"#, "io.memguard.monitor is a boolean"),
    ])
    func rejectsMalformedState(input: String, expected: String) {
        #expect(error(input).contains(expected), "\(error(input))")
    }

    @Test func rejectsDeepNestingWithoutCrashing() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(error(#"{"a":"# + deep + "}").contains("not valid JSON"))
    }

    @Test func rejectsInvalidUTF8() {
        var bytes = Array(#"{"ociVersion":"1","id":""#.utf8)
        bytes += [0xFF, 0xFE]
        bytes += Array(#"","status":"creating"}"#.utf8)
        #expect(throws: MemguardError.self) { try OCIState(json: bytes) }
    }

    @Test func foreignNonStringAnnotationsAreIgnored() throws {
        let state = try parse(#"{"ociVersion":"1","id":"a","status":"creating","annotations":{"k8s":{"x":1},"io.memguard.monitor":"true"}}"#)
        #expect(state.annotations == ["io.memguard.monitor": "true"])
    }
}

@Suite("Annotations")
struct MonitorSettingsTests {
    @Test func notOptedInWithoutTheAnnotation() throws {
        #expect(try MonitorSettings(annotations: [:]) == nil)
        #expect(try MonitorSettings(annotations: ["io.memguard.monitor": "false"]) == nil)
        #expect(try MonitorSettings(annotations: ["io.other": "x"]) == nil)
        // Explicitly off, settings and all.
        #expect(try MonitorSettings(annotations: ["io.memguard.monitor": "false", "io.memguard.mode": "enforce"]) == nil)
    }

    @Test("a setting without the opt-in asks for protection that would silently not be there: an error")
    func aSettingWithoutTheOptInIsAnError() {
        #expect { try MonitorSettings(annotations: ["io.memguard.mode": "enforce"]) } throws: { error in
            "\(error)".contains("io.memguard.mode is set but io.memguard.monitor is not")
        }
    }

    @Test(arguments: ["TRUE", "True", "1", "yes", ""])
    func anOptInValueOtherThanTrueOrFalseIsAnError(value: String) {
        #expect(throws: MemguardError.self) { try MonitorSettings(annotations: ["io.memguard.monitor": value]) }
    }

    @Test func aMisspeltKeyIsAnErrorNotASilentAudit() {
        #expect(throws: MemguardError.self) {
            try MonitorSettings(annotations: ["io.memguard.monitor": "true", "io.memguard.mdoe": "enforce"])
        }
    }

    @Test func modeDefaultsToAudit() throws {
        #expect(try MonitorSettings(annotations: ["io.memguard.monitor": "true"])?.mode == .audit)
        #expect(try MonitorSettings(annotations: ["io.memguard.monitor": "true", "io.memguard.mode": "enforce"])?.mode == .enforce)
    }

    @Test func misspeltModeIsAnErrorNotAFallback() {
        #expect(throws: MemguardError.self) {
            try MonitorSettings(annotations: ["io.memguard.monitor": "true", "io.memguard.mode": "enforced"])
        }
    }

    @Test func controlCharactersInOurAnnotationsAreRefused() {
        #expect(throws: MemguardError.self) {
            try MonitorSettings(annotations: ["io.memguard.monitor": "true", "io.memguard.mode": "audit\n{\"forged\":1}"])
        }
    }

    @Test func unknownKeysAreReported() {
        #expect(MonitorSettings.unknownKeys(in: ["io.memguard.monitor": "true", "io.memguard.bogus": "1", "x": "y"]) == ["io.memguard.bogus"])
    }
}
