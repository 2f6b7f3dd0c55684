import ProtoSchema
import SwiftProtobuf
import XCTest

/// A schema version is a descriptor set and its main file; sets that cannot be one are refused with a reason.
final class SchemaVersionCompatibilityTests: XCTestCase {
    func testTheMainFileIsTheLastFileProtocWrites() throws {
        let set = try ProtocFixture.descriptorSet(files: [
            "money.proto": "syntax = \"proto3\";\npackage shop;\nmessage Money { int64 cents = 1; }\n",
            "order.proto": proto3("import \"money.proto\";\nmessage Order { Money total = 1; }"),
        ], main: "order.proto")
        XCTAssertEqual(set.file.map(\.name), ["money.proto", "order.proto"])
        XCTAssertEqual(try ProtoSchemaVersion(descriptorSet: set).mainFileName, "order.proto")
    }

    func testEmptySetMissingMainFileAndDuplicatesAreRefused() throws {
        XCTAssertThrowsError(try ProtoSchemaVersion(descriptorSet: Google_Protobuf_FileDescriptorSet())) { error in
            XCTAssertEqual((error as? SchemaVersionError)?.code, .emptyDescriptorSet)
        }
        var set = Google_Protobuf_FileDescriptorSet()
        set.file = [Google_Protobuf_FileDescriptorProto.with { $0.name = "a.proto" }]
        XCTAssertThrowsError(try ProtoSchemaVersion(descriptorSet: set, mainFileName: "b.proto")) { error in
            XCTAssertEqual((error as? SchemaVersionError)?.code, .mainFileMissing)
            XCTAssertEqual((error as? SchemaVersionError)?.file, "b.proto")
        }
        set.file.append(set.file[0])
        XCTAssertThrowsError(try ProtoSchemaVersion(descriptorSet: set)) { error in
            XCTAssertEqual((error as? SchemaVersionError)?.code, .duplicateFile)
        }
    }

    func testSerializedSetsAreReadAndGarbageIsRefused() throws {
        let set = try ProtocFixture.descriptorSet(files: ["a.proto": proto3("message A { int32 n = 1; }")], main: "a.proto")
        let version = try ProtoSchemaVersion(serializedDescriptorSet: try set.serializedBytes())
        XCTAssertEqual(version.mainFileName, "a.proto")
        XCTAssertThrowsError(try ProtoSchemaVersion(serializedDescriptorSet: Array("message A {}".utf8))) { error in
            XCTAssertEqual((error as? SchemaVersionError)?.code, .unreadableDescriptorSet)
        }
    }

    func testAnExplicitMainFileIsCheckedInsteadOfTheLast() throws {
        let set = try ProtocFixture.descriptorSet(files: [
            "money.proto": "syntax = \"proto3\";\npackage shop;\nmessage Money { int64 cents = 1; }\n",
            "order.proto": proto3("import \"money.proto\";\nmessage Order { Money total = 1; }"),
        ], main: "order.proto")
        var changed = set
        changed.file[0].messageType[0].field[0].type = .string
        let old = try ProtoSchemaVersion(descriptorSet: set, mainFileName: "money.proto")
        let new = try ProtoSchemaVersion(descriptorSet: changed, mainFileName: "money.proto")
        XCTAssertEqual(CompatibilityChecker().differences(from: old, to: new).map(\.rule), [.fieldScalarKindChanged])
    }
}
