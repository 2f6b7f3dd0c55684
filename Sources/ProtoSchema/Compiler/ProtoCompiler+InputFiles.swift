import Foundation

extension ProtoCompiler {
    /// Compiles files named on a command line, found as protoc finds them (`.` is the import
    /// path when none is given): a path on disk under an import path is named relative to it
    /// (compared as written, then as absolute paths, so `-I /abs/protos protos/a.proto` works
    /// too), and a name that is no file on disk is looked up as an import name
    /// (`-I protos foo/bar.proto` where only `protos/foo/bar.proto` exists).
    public func compile(paths: [String]) throws(CompileErrors) -> Output {
        var compiler = self
        if compiler.importPaths.isEmpty { compiler.importPaths = ["."] }
        var names: [String] = []
        var errors: [CompileError] = []
        for path in paths {
            do {
                names.append(try compiler.importName(forInput: path))
            } catch {
                errors.append(error)
            }
        }
        if !errors.isEmpty { throw CompileErrors(errors) }
        return try compiler.compile(names)
    }

    /// The import name an input file is compiled under, or why it has none.
    func importName(forInput path: String) throws(CompileError) -> String {
        let files = FileManager.default
        let at = SourceLocation(file: path, line: 1, column: 1)
        var isDirectory: ObjCBool = false
        let onDisk = files.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
        if onDisk, let (name, root) = diskMapping(of: path) {
            // protoc refuses an input an earlier import path hides: that file would be compiled instead.
            for earlier in importPaths[..<root] {
                let shadowing = Self.diskPath(root: earlier, name)
                if files.fileExists(atPath: shadowing), Self.absolute(shadowing) != Self.absolute(path) {
                    throw CompileError(at, "Input is shadowed in the --proto_path by \"\(shadowing)\".  Either use the latter file as your input or reorder the --proto_path so that the former file's location comes first.")
                }
            }
            return name
        }
        let name = Self.normalize(path)
        if !name.hasPrefix("/"), !name.hasPrefix("../"), sources[name] != nil || WellKnownProtos.files[name] != nil
            || importPaths.contains(where: { files.fileExists(atPath: Self.diskPath(root: $0, name)) }) {
            return name
        }
        if onDisk {
            throw CompileError(at, "File does not reside within any path specified using --proto_path (or -I).  You must specify a --proto_path which encompasses this file.  Note that the proto_path must be an exact prefix of the .proto file names -- protoc is too dumb to figure out when two paths (e.g. absolute and relative) are equivalent (it's harder than you think).")
        }
        throw CompileError(at, "File not found (neither on disk nor under any --proto_path: \(importPaths.joined(separator: ", "))).")
    }

    /// The import name of a file on disk and the index of the first import path holding it.
    private func diskMapping(of path: String) -> (String, Int)? {
        let written = Self.normalize(path)
        let absolutePath = Self.absolute(path)
        for (index, root) in importPaths.enumerated() {
            let base = Self.normalize(root)
            if base.isEmpty {
                if !written.hasPrefix("/") && !written.hasPrefix("../") { return (written, index) }
            } else if written.hasPrefix(base + "/") {
                return (String(written.dropFirst(base.count + 1)), index)
            }
            let absoluteRoot = Self.absolute(root)
            let prefix = absoluteRoot.hasSuffix("/") ? absoluteRoot : absoluteRoot + "/"
            if absolutePath.hasPrefix(prefix) { return (String(absolutePath.dropFirst(prefix.count)), index) }
        }
        return nil
    }

    /// A path without `.` components or repeated slashes (`./a//b` is `a/b`; `.` is empty).
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) where part != "." { parts.append(part) }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    /// The absolute path with symbolic links resolved, `..` removed.
    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// Where import `name` lies under `root` on disk.
    static func diskPath(root: String, _ name: String) -> String {
        root == "." || root.isEmpty ? name : root + "/" + name
    }
}
