import Foundation
import PackagePlugin

/// Compiles bpf/*.bpf.c into a CO-RE object and embeds it in the target as generated Swift,
/// so plain `swift build` produces a `memguard` that carries its kernel programs.
@main
struct BPFObjectPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let bpfDir = context.package.directoryURL.appending(path: "bpf")
        let script = bpfDir.appending(path: "build-bpf.sh")
        let work = context.pluginWorkDirectoryURL
        let output = work.appending(path: "ProbeObject.swift")
        let inputs = try sources(in: bpfDir)
        return [
            .buildCommand(
                displayName: "Compiling memguard BPF probes",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [script.path, output.path, work.appending(path: "bpf").path],
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }

    private func sources(in dir: URL) throws -> [URL] {
        let fm = FileManager.default
        guard let walker = fm.enumerator(at: dir, includingPropertiesForKeys: nil) else { return [] }
        return walker.compactMap { $0 as? URL }.filter { url in
            [".c", ".h", ".sh"].contains { url.lastPathComponent.hasSuffix($0) }
        }
    }
}
