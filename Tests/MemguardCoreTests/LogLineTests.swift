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
}
