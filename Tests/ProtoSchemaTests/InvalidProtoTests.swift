import Foundation
import XCTest
@testable import ProtoSchema

/// Invalid files: protoc and the in-process compiler both reject them, first error on the same line.
final class InvalidProtoTests: XCTestCase {
    /// (what is wrong, main file text, other files)
    private static let cases: [(String, String, [String: String])] = [
        ("missing semicolon", "syntax = \"proto3\";\nmessage A {\n  int32 x = 1\n}\n", [:]),
        ("duplicate field number", "syntax = \"proto3\";\nmessage A {\n  int32 x = 1;\n  int32 y = 1;\n}\n", [:]),
        ("duplicate field name", "syntax = \"proto3\";\nmessage A {\n  int32 x = 1;\n  string x = 2;\n}\n", [:]),
        ("duplicate message", "syntax = \"proto3\";\nmessage A {}\n\nmessage A {}\n", [:]),
        ("field number zero", "syntax = \"proto3\";\nmessage A {\n  int32 x = 0;\n}\n", [:]),
        ("implementation-reserved number", "syntax = \"proto3\";\nmessage A {\n  int32 x = 19001;\n}\n", [:]),
        ("number too large", "syntax = \"proto3\";\nmessage A {\n  int32 x = 536870912;\n}\n", [:]),
        ("reserved number", "syntax = \"proto3\";\nmessage A {\n  reserved 5;\n  int32 x = 5;\n}\n", [:]),
        ("reserved name", "syntax = \"proto3\";\nmessage A {\n  reserved \"x\";\n  int32 x = 1;\n}\n", [:]),
        ("unresolved type", "syntax = \"proto3\";\nmessage A {\n  Missing m = 1;\n}\n", [:]),
        ("proto3 required", "syntax = \"proto3\";\nmessage A {\n  required int32 x = 1;\n}\n", [:]),
        ("proto3 default", "syntax = \"proto3\";\nmessage A {\n  int32 x = 1 [default = 5];\n}\n", [:]),
        ("proto3 first enum value", "syntax = \"proto3\";\nenum E {\n  ONE = 1;\n}\n", [:]),
        ("map key type", "syntax = \"proto3\";\nmessage A {\n  map<double, string> m = 1;\n}\n", [:]),
        ("json name conflict", "syntax = \"proto3\";\nmessage A {\n  int32 foo_bar = 1;\n  int32 fooBar = 2;\n}\n", [:]),
        ("extension number out of range", "syntax = \"proto2\";\nmessage A {\n  extensions 10 to 20;\n}\nextend A {\n  optional int32 x = 30;\n}\n", [:]),
        ("enum alias without allow_alias", "syntax = \"proto3\";\nenum E {\n  ZERO = 0;\n  NONE = 0;\n}\n", [:]),
        ("import not found", "syntax = \"proto3\";\nimport \"nowhere/missing.proto\";\nmessage A {}\n", [:]),
        ("proto2 field without label", "syntax = \"proto2\";\nmessage A {\n  int32 x = 1;\n}\n", [:]),
        ("group in proto3", "syntax = \"proto3\";\nmessage A {\n  optional group G = 1 {}\n}\n", [:]),
        ("type defined in a file not imported", "syntax = \"proto3\";\nimport \"b.proto\";\nmessage A {\n  C c = 1;\n}\n",
         ["b.proto": "syntax = \"proto3\";\nimport \"c.proto\";\nmessage B {}\n", "c.proto": "syntax = \"proto3\";\nmessage C {}\n"]),
        ("unknown option", "syntax = \"proto3\";\nmessage A {\n  option no_such_option = true;\n}\n", [:]),
        ("option value of the wrong type", "syntax = \"proto3\";\noption java_package = 5;\n", [:]),
        ("extension range overlaps reserved", "syntax = \"proto2\";\nmessage A {\n  reserved 10 to 20;\n  extensions 15 to 30;\n}\n", [:]),
        ("innermost scope shadows", "syntax = \"proto2\";\npackage a.b;\nmessage X {}\nmessage a {\n  optional a.b.X x = 1;\n}\n", [:]),
        ("empty oneof", "syntax = \"proto3\";\nmessage A {\n  oneof o {\n  }\n}\n", [:]),
        ("enum values clash in scope", "syntax = \"proto3\";\nenum E { UNKNOWN = 0; }\nenum F { UNKNOWN = 0; }\n", [:]),
        ("message with default", "syntax = \"proto2\";\nmessage B {}\nmessage A {\n  optional B b = 1 [default = 1];\n}\n", [:]),
        ("unterminated message", "syntax = \"proto3\";\nmessage A {\n  int32 x = 1;\n", [:]),
        ("unterminated string", "syntax = \"proto3\";\noption java_package = \"com.example\n;\n", [:]),
        ("proto3 extension of a message", "syntax = \"proto3\";\nimport \"base.proto\";\nextend Base {\n  int32 x = 10;\n}\n",
         ["base.proto": "syntax = \"proto2\";\nmessage Base {\n  extensions 1 to 100;\n}\n"]),
        ("negative unsigned default", "syntax = \"proto2\";\nmessage A {\n  optional uint32 x = 1 [default = -1];\n}\n", [:]),
        ("enum default not a value", "syntax = \"proto2\";\nenum E { A = 1; }\nmessage M {\n  optional E e = 1 [default = B];\n}\n", [:]),
        ("unknown syntax", "syntax = \"proto4\";\n", [:]),
        ("map field with label", "syntax = \"proto3\";\nmessage A {\n  repeated map<string, string> m = 1;\n}\n", [:]),
    ]

    /// Invalid inputs protoc 3.21 refuses that we once accepted; here the first error's message
    /// must be protoc's too, not only its line.
    private static let parityCases: [(String, String, [String: String])] = [
        ("conflicting extension numbers", "syntax = \"proto2\";\nimport \"base.proto\";\nextend Base {\n  optional int32 a = 100;\n}\nextend Base {\n  optional int32 b = 100;\n}\n",
         ["base.proto": "syntax = \"proto2\";\nmessage Base {\n  extensions 100 to 200;\n}\n"]),
        ("duplicate import", "syntax = \"proto2\";\nimport \"base.proto\";\nimport \"base.proto\";\nmessage X {}\n",
         ["base.proto": "syntax = \"proto2\";\nmessage Base {}\n"]),
        ("MessageSet extension that is not a message", "syntax = \"proto2\";\nmessage Set {\n  option message_set_wire_format = true;\n  extensions 4 to max;\n}\nextend Set {\n  optional int32 bad = 10;\n}\n", [:]),
        ("repeated MessageSet extension", "syntax = \"proto2\";\nmessage Set {\n  option message_set_wire_format = true;\n  extensions 4 to max;\n}\nmessage Item {}\nextend Set {\n  repeated Item items = 10;\n}\n", [:]),
        ("MessageSet with a field", "syntax = \"proto2\";\nmessage Set {\n  option message_set_wire_format = true;\n  extensions 4 to max;\n  optional int32 f = 1;\n}\n", [:]),
        ("map field inside a oneof", "syntax = \"proto3\";\nmessage M {\n  oneof o {\n    map<string, int32> m = 1;\n  }\n}\n", [:]),
        ("packed on a non-repeated field", "syntax = \"proto2\";\nmessage M {\n  optional int32 a = 1 [packed = true];\n}\n", [:]),
        ("packed on a repeated enum is fine, on a string not", "syntax = \"proto2\";\nenum E {\n  A = 1;\n}\nmessage M {\n  repeated E e = 1 [packed = true];\n  repeated string s = 2 [packed = false];\n  repeated string a = 3 [packed = true];\n}\n", [:]),
        ("packed on a repeated string", "syntax = \"proto2\";\nmessage M {\n  repeated string a = 1 [packed = true];\n}\n", [:]),
        ("packed on a repeated message", "syntax = \"proto3\";\nmessage N {}\nmessage M {\n  repeated N a = 1 [packed = true];\n}\n", [:]),
        ("invalid escape in a default", "syntax = \"proto2\";\nmessage M {\n  optional string a = 1 [default = \"ab\\qc\"];\n}\n", [:]),
        ("invalid escape in an option", "syntax = \"proto3\";\noption java_package = \"com.\\zexample\";\n", [:]),
        ("extendee names a field", "syntax = \"proto2\";\npackage p;\nmessage Foo {\n  extensions 10 to 20;\n}\nmessage N {\n  optional int32 Foo = 1;\n  extend Foo {\n    optional int32 e = 10;\n  }\n}\n", [:]),
        ("method type names the method", "syntax = \"proto2\";\npackage p;\nmessage Foo {}\nservice S {\n  rpc Foo(Foo) returns (Foo);\n}\n", [:]),
        ("method type names a field", "syntax = \"proto2\";\npackage p;\nmessage M {\n  optional int32 x = 1;\n}\nservice S {\n  rpc R(.p.M.x) returns (M);\n}\n", [:]),
    ]

    /// Each case's first error from us and from protoc (file, line), or why they disagree.
    private func mismatches(_ cases: [(String, String, [String: String])], sameMessage: Bool) throws -> [String] {
        var mismatches: [String] = []
        for (what, text, others) in cases {
            let workspace = try ProtoWorkspace(others.merging(["main.proto": text]) { $1 })
            defer { workspace.remove() }
            let reference = try Protoc.compile([workspace.root + "/main.proto"], importPaths: [workspace.root])
            XCTAssertNotEqual(reference.status, 0, "\(what): protoc accepted it")
            do {
                _ = try ProtoCompiler(importPaths: [workspace.root]).compile(["main.proto"])
                mismatches.append("\(what): we accepted it; protoc said \(reference.stderr)")
            } catch {
                let ours = error.errors.first.map { ($0.location.file, $0.location.line) }
                let theirs = Protoc.firstErrorLine(reference.stderr).map { ($0.0.replacingOccurrences(of: workspace.root + "/", with: ""), $0.1) }
                let theirLine = reference.stderr.split(separator: "\n").first.map(String.init)?.replacingOccurrences(of: workspace.root + "/", with: "") ?? ""
                // protoc reports a few errors without a line; then only the file must agree.
                let lineAgrees = theirs == nil || ours?.1 == theirs?.1
                let messageAgrees = !sameMessage || theirLine.hasSuffix(": " + (error.errors.first?.message ?? ""))
                if theirs != nil && ours?.0 != theirs?.0 || !lineAgrees || !messageAgrees {
                    mismatches.append("\(what): protoc \(theirLine) — ours \(error.errors.first?.description ?? "")")
                }
            }
        }
        return mismatches
    }

    func testProtocAndWeRejectTheSameFilesAtTheSameLine() throws {
        let mismatches = try mismatches(Self.cases, sameMessage: false)
        XCTAssertTrue(mismatches.isEmpty, "\(mismatches.count) of \(Self.cases.count) differ:\n" + mismatches.joined(separator: "\n"))
    }

    func testParityClassesAreRefusedWithProtocsMessage() throws {
        let mismatches = try mismatches(Self.parityCases, sameMessage: true)
        XCTAssertTrue(mismatches.isEmpty, "\(mismatches.count) of \(Self.parityCases.count) differ:\n" + mismatches.joined(separator: "\n"))
    }
}
