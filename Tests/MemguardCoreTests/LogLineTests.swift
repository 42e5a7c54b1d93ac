import Glibc
import Testing
@testable import MemguardCore

@Suite("Log lines")
struct LogLineTests {
    @Test func hostileStringsStayInsideTheirField() throws {
        var line = JSONLine()
        let hostile = "x\"}\n{\"event\":\"forged\u{1}\u{7F}\u{2028}\\"
        line.add("comm", hostile)
        line.add("n", 42)
        let text = line.rendered
        #expect(!text.contains("\n"))
        let doc = try JSONDocument(parsing: Array(text.utf8), what: "line")
        #expect(doc.root["comm"]?.string == hostile)
        #expect(doc.root["n"]?.int64 == 42)
        #expect(doc.root["event"] == nil)
    }

    @Test func nestedObjectsAndFractions() throws {
        var inner = JSONLine()
        inner.add("a", true)
        var line = JSONLine()
        line.add("d", object: inner)
        line.add("ms", fraction: 12.3456)
        line.add("neg", fraction: -0.5)
        #expect(line.rendered == #"{"d":{"a":true},"ms":12.346,"neg":-0.500}"#)
    }

    @Test func recordsStartWithTimeContainerAndEvent() throws {
        let line = EventLog.record(try ContainerID("c1"), event: "hook", time: timespec(tv_sec: 1_700_000_000, tv_nsec: 5))
        #expect(line.rendered == #"{"time":"2023-11-14T22:13:20.000000005Z","container":"c1","event":"hook"}"#)
    }

    @Test func boottimeConvertsToNow() {
        let boot = Clock.nanoseconds(CLOCK_BOOTTIME)
        let real = Clock.realtime(fromBoottime: boot)
        #expect(abs(real.tv_sec - Clock.now().tv_sec) <= 1)
    }
}

@Suite("State records")
struct StateRecordTests {
    @Test func roundTrip() throws {
        let record = StateRecord(containerID: "a\nb\"c", cgroupID: 77, cgroupPath: "/x/y", pidnsInode: 4026531836,
                                 initPID: 12, monitorPID: 13, monitorStart: 999, mode: "enforce")
        #expect(try StateRecord(text: record.text, path: "t") == record)
    }

    @Test func missingFieldIsNamed() {
        #expect(throws: MemguardError.self) { try StateRecord(text: "container={\"id\":\"a\"}\n", path: "t") }
    }

    @Test("queued lines are written out as the queue fills: it never holds more than its limit")
    func queueStaysBounded() throws {
        var template = "/tmp/memguard-logtest.XXXXXX".utf8CString
        let dir = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        defer { _ = try? FileSystem.removeFile("\(dir)/burst.log"); rmdir(dir) }
        var paths = MemguardPaths()
        paths.logDir = dir
        let log = try EventLog(paths: paths, container: try ContainerID("burst"))
        var line = EventLog.record(try ContainerID("burst"), event: "wx-mprotect")
        line.add("filler", String(repeating: "x", count: 500))
        let lines = 4 * EventLog.queueLimit / 500
        var most = 0
        for _ in 0..<lines {
            log.queue(line)
            most = max(most, log.queuedBytes)
        }
        #expect(most < EventLog.queueLimit)
        try log.flush()
        let written = try FileSystem.readText(log.path, limit: 64 << 20).split(separator: "\n")
        #expect(written.count == lines)
        #expect(written.allSatisfy { $0.hasSuffix("x\"}") })
    }
}
