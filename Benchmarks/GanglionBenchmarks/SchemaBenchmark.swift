import Foundation
import ProtoSchema
import SwiftProtobuf

/// The schema toolkit's figures: in-process compile vs protoc, a compatibility check of a
/// 100-message schema, and the dynamic codec's throughput.
struct SchemaBenchmark {
    let rounds: Int

    func run() throws {
        print("== Schema toolkit (median of \(rounds) rounds) ==")
        try compileFigures()
        try compatibilityFigures()
        try codecFigures()
        print("")
    }

    /// Seconds per call of `body`, the median over rounds of `count` calls.
    private func seconds(count: Int, _ body: () throws -> Void) rethrows -> Double {
        var samples: [Double] = []
        for _ in 0..<rounds {
            let start = Date()
            for _ in 0..<count { try body() }
            samples.append(Date().timeIntervalSince(start) / Double(count))
        }
        return Figures.median(samples)
    }

    private func compileFigures() throws {
        let file = "google/protobuf/descriptor.proto"
        let ours = try seconds(count: 20) { _ = try ProtoCompiler().compile([file]) }
        var line = "  compile descriptor.proto: in-process \(Figures.fixed(ours * 1000, 2)) ms"
        if let protoc = ["/usr/bin/protoc", "/usr/local/bin/protoc"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
           FileManager.default.fileExists(atPath: "/usr/include/" + file) {
            let theirs = try seconds(count: 5) {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: protoc)
                process.arguments = ["-I/usr/include", "--descriptor_set_out=/dev/null", file]
                try process.run()
                process.waitUntilExit()
            }
            line += ", protoc process \(Figures.fixed(theirs * 1000, 2)) ms (\(Figures.fixed(theirs / ours, 1))× slower)"
        } else {
            line += " (protoc not installed: no comparison)"
        }
        print(line)
    }

    /// A schema of `messages` messages that refer to each other, with `change` applied to every 10th.
    static func largeSchema(messages: Int, version: Int) -> String {
        var text = "syntax = \"proto3\";\npackage bench.v1;\nimport \"google/protobuf/timestamp.proto\";\n"
        for index in 0..<messages {
            text += "message M\(index) {\n  string id = 1;\n  int64 amount = 2;\n  google.protobuf.Timestamp at = 3;\n"
            text += "  repeated M\((index + 1) % messages) next = 4;\n  map<string, int32> counts = 5;\n"
            text += "  oneof choice { string text = 6; M\((index + 7) % messages) other = 7; }\n  Kind kind = 8;\n"
            if version > 1 && index % 10 == 0 { text += "  string added_in_v\(version) = \(10 + version);\n" }
            text += "  enum Kind { KIND_UNSPECIFIED = 0; KIND_A = 1; }\n}\n"
        }
        return text
    }

    private func compatibilityFigures() throws {
        var versions: [ProtoSchemaVersion] = []
        var sets: [Google_Protobuf_FileDescriptorSet] = []
        for version in 1...5 {
            let output = try ProtoCompiler(sources: ["bench.proto": Self.largeSchema(messages: 100, version: version)]).compile(["bench.proto"])
            sets.append(output.descriptorSet(includeImports: true))
            versions.append(try ProtoSchemaVersion(descriptorSet: sets.last!, mainFileName: "bench.proto"))
        }
        let building = try seconds(count: 50) { _ = try ProtoSchemaVersion(descriptorSet: sets[1], mainFileName: "bench.proto") }
        let checker = CompatibilityChecker()
        var compatible = true
        let latest = seconds(count: 50) {
            compatible = compatible && checker.check(versions[1], against: [versions[0]], level: .backward, strict: true).isCompatible
        }
        let transitive = seconds(count: 20) {
            compatible = compatible && checker.check(versions[4], against: Array(versions[0..<4]), level: .fullTransitive, strict: false).isCompatible
        }
        print("  compatibility check, 100-message schema: BACKWARD+strict vs latest \(Figures.fixed(latest * 1e6, 0)) µs,"
              + " FULL_TRANSITIVE over 4 versions \(Figures.fixed(transitive * 1e6, 0)) µs (verdict: \(compatible ? "compatible" : "incompatible"));"
              + " reading a version for checking (once, at registration) \(Figures.fixed(building * 1e6, 0)) µs")
    }

    private func codecFigures() throws {
        let proto = """
            syntax = "proto3";
            package bench.v1;
            import "google/protobuf/timestamp.proto";
            message Line { string sku = 1; int32 quantity = 2; int64 price_micros = 3; }
            message Order {
              string id = 1; string customer = 2; repeated Line lines = 3; map<string, string> labels = 4;
              google.protobuf.Timestamp placed_at = 5; double total = 6; bool paid = 7; bytes signature = 8;
            }
            """
        let schema = SchemaSet(files: try ProtoCompiler(sources: ["order.proto": proto]).compile(["order.proto"]).allFiles)
        let json = """
            {"id":"ord-4711","customer":"cust-42","lines":[{"sku":"A-1","quantity":2,"priceMicros":"1990000"},
            {"sku":"B-2","quantity":1,"priceMicros":"24500000"},{"sku":"C-3","quantity":5,"priceMicros":"500000"}],
            "labels":{"channel":"web","region":"eu"},"placedAt":"2026-11-21T04:40:00.123Z","total":31.46,"paid":true,
            "signature":"c2lnbmF0dXJlLWJ5dGVz"}
            """
        let binary = try schema.binary(fromJSON: json, messageType: "bench.v1.Order")
        let toJSON = try seconds(count: 2000) { _ = try schema.json(fromBinary: binary, messageType: "bench.v1.Order") }
        let toBinary = try seconds(count: 2000) { _ = try schema.binary(fromJSON: json, messageType: "bench.v1.Order") }
        let validate = try seconds(count: 5000) { try schema.validate(binary: binary, messageType: "bench.v1.Order") }
        print("  codec (\(binary.count)-byte order): binary→JSON \(Figures.rate(1 / toJSON, unit: "msg/s")),"
              + " JSON→binary \(Figures.rate(1 / toBinary, unit: "msg/s")), validate \(Figures.rate(1 / validate, unit: "msg/s"))")
    }
}
