import Testing
@testable import MemguardCore

@Suite("Host policy (memguard.json) and what annotations may change")
struct HostPolicyTests {
    func host(_ text: String) throws -> HostConfig { try HostConfig(bytes: Array(text.utf8), path: "memguard.json") }

    func message(_ text: String) -> String {
        do {
            _ = try host(text)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test func aFullPolicyIsRead() throws {
        let h = try host("""
        {"runtime":"/usr/bin/crun","mode":"enforce","action":"freeze","failure":"open",
         "relax":{"mode":true,"failure":false,"allow_wx":true},"allow_wx":["/usr/bin/node"],
         "thresholds":{"spray_window_ms":500,"spray_max_maps":100,"spray_max_bytes":1048576,"sample_interval_ms":200,
                       "working_set_growth_bytes_per_second":1000,"working_set_limit_fraction":0.5},
         "log_dir":"/srv/log","state_dir":"/srv/run","metrics_dir":"/srv/metrics"}
        """)
        #expect(h.mode == .enforce && h.action == .freeze && h.failure == .open)
        #expect(h.relax.mode && !h.relax.failure && h.relax.allowWX)
        #expect(h.allowWX == ["/usr/bin/node"])
        #expect(h.thresholds.sprayMaxMaps == 100 && h.thresholds.workingSetLimitFraction == 0.5)
        var paths = MemguardPaths()
        paths.adopt(h)
        #expect(paths.logDir == "/srv/log" && paths.metricsDir == "/srv/metrics")
    }

    @Test(arguments: [
        (#"{"mdoe":"enforce"}"#, #"unknown key "mdoe""#),
        (#"{"relax":{"allow":true}}"#, #"unknown key "relax.allow""#),
        (#"{"mode":"strict"}"#, #""mode" must be one of audit, enforce, learn"#),
        (#"{"failure":true}"#, #""failure" must be one of closed, open"#),
        (#"{"allow_wx":["node"]}"#, #""allow_wx[0]" must be an absolute path"#),
        (#"{"thresholds":{"spray_max_maps":-1}}"#, #""thresholds.spray_max_maps" must be a non-negative integer"#),
        (#"{"thresholds":{"working_set_limit_fraction":1.5}}"#, "working_set_limit_fraction"),
        (#"{"thresholds":{"sample_interval_ms":1}}"#, "at least 10"),
        (#"{"log_dir":"relative"}"#, #""log_dir" must be an absolute path"#),
    ])
    func badKeysAndValuesAreNamed(text: String, expected: String) {
        #expect(message(text).contains(expected), "\(message(text))")
    }

    @Test func annotationsMayTightenButNotRelax() throws {
        let strict = try host(#"{"mode":"enforce"}"#)
        let on = ["io.memguard.monitor": "true"]
        #expect(try MonitorSettings(annotations: on, host: strict)?.mode == .enforce)
        #expect(throws: MemguardError.self) { try MonitorSettings(annotations: on.merging(["io.memguard.mode": "audit"]) { $1 }, host: strict) }
        #expect(throws: MemguardError.self) { try MonitorSettings(annotations: on.merging(["io.memguard.failure": "open"]) { $1 }, host: strict) }
        #expect(throws: MemguardError.self) { try MonitorSettings(annotations: on.merging(["io.memguard.allow-wx": "/jit"]) { $1 }, host: strict) }
        // Stricter is always fine; so is choosing the action.
        let lax = HostConfig()
        #expect(try MonitorSettings(annotations: on.merging(["io.memguard.mode": "enforce", "io.memguard.action": "freeze"]) { $1 }, host: lax)?.action == .freeze)
        // With the host's permission, relaxing works.
        let permissive = try host(#"{"mode":"enforce","relax":{"mode":true,"allow_wx":true,"failure":true}}"#)
        let relaxed = try MonitorSettings(annotations: on.merging(["io.memguard.mode": "audit", "io.memguard.allow-wx": "/jit,/opt/node",
                                                                    "io.memguard.failure": "open"]) { $1 }, host: permissive)
        #expect(relaxed?.mode == .audit && relaxed?.allowWX == ["/jit", "/opt/node"] && relaxed?.failure == .open)
    }

    @Test func learnNeedsABaselineName() {
        #expect(throws: MemguardError.self) { try MonitorSettings(annotations: ["io.memguard.monitor": "true", "io.memguard.mode": "learn"]) }
        #expect(throws: MemguardError.self) {
            try MonitorSettings(annotations: ["io.memguard.monitor": "true", "io.memguard.allow-wx": "relative/path"], host: try host(#"{"relax":{"allow_wx":true}}"#))
        }
    }
}
