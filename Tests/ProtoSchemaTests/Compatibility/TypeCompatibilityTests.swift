import ProtoSchema
import XCTest

/// Message and enum types, packages and imports (Confluent's `SchemaDiff.compareTypeElements`, `EnumSchemaDiff`
/// and the sub-context comparison of referenced messages).
final class TypeCompatibilityTests: XCTestCase, CompatibilityTesting {
    func testAddingAMessageIsBackwardButNotForwardCompatible() throws {
        let old = proto3("message Order { string id = 1; }")
        let new = proto3("message Order { string id = 1; }\nmessage Refund { string id = 1; }")
        XCTAssertEqual(try differences(old, new), ["MESSAGE_ADDED #/Refund"])
        XCTAssertTrue(try check(old, new, level: .backward).isCompatible)
        XCTAssertEqual(violatedRules(try check(old, new, level: .forward)), ["MESSAGE_REMOVED"])
    }

    func testRemovingAMessageBreaks() throws {
        let old = proto3("message Order { string id = 1; }\nmessage Refund { string id = 1; }")
        let new = proto3("message Order { string id = 1; }")
        XCTAssertEqual(violatedRules(try check(old, new, level: .backward)), ["MESSAGE_REMOVED"])
        XCTAssertEqual(try check(old, new, level: .backward).violations.first?.path, "shop.Refund")
    }

    func testReorderingMessagesIsCompatible() throws {
        let old = proto3("message A { string s = 1; }\nmessage B { string s = 1; }")
        let new = proto3("message B { string s = 1; }\nmessage A { string s = 1; }")
        XCTAssertEqual(try differences(old, new), ["MESSAGE_MOVED #/A", "MESSAGE_MOVED #/B"])
        XCTAssertTrue(try check(old, new, level: .fullTransitive).isCompatible)
    }

    func testNestedTypesAreComparedAtTheirPath() throws {
        let old = proto3("message Wrapper { int32 n = 1; message Item { string s = 1; } }")
        let new = proto3("message Wrapper { int32 n = 1; message Item { string s = 1; string t = 2; } }")
        XCTAssertEqual(try differences(old, new), ["FIELD_ADDED #/Wrapper/Item/2"])
        let removed = proto3("message Wrapper { int32 n = 1; }")
        XCTAssertEqual(violatedRules(try check(old, removed, level: .backward)), ["MESSAGE_REMOVED"])
        XCTAssertEqual(try check(old, removed, level: .backward).violations.first?.path, "shop.Wrapper.Item")
    }

    func testMapEntriesAreNotMessages() throws {
        let old = proto3("message M { string s = 1; }")
        let new = proto3("message M { string s = 1; map<string, int32> counts = 2; }")
        XCTAssertEqual(try differences(old, new), ["FIELD_ADDED #/M/2"])
        XCTAssertEqual(try differences(new, old), ["FIELD_REMOVED #/M/2"])
    }

    func testChangingThePackageBreaks() throws {
        let old = proto3("message M { Inner v = 1; message Inner { string s = 1; } }")
        let new = old.replacingOccurrences(of: "package shop;", with: "package store;")
        XCTAssertEqual(try differences(old, new), ["PACKAGE_CHANGED #/"])
        let report = try check(old, new, level: .backward)
        XCTAssertEqual(violatedRules(report), ["PACKAGE_CHANGED"])
        XCTAssertEqual(report.violations.first?.old, "package shop")
        XCTAssertEqual(report.violations.first?.new, "package store")
    }

    func testEnumChangesAreCompatible() throws {
        let old = proto3("message M { Status s = 1; }\nenum Status { UNKNOWN = 0; ACTIVE = 1; CLOSED = 2; }")
        let new = proto3("message M { Status s = 1; }\nenum Status { UNKNOWN = 0; LIVE = 1; PAUSED = 3; }")
        XCTAssertEqual(try differences(old, new), [
            "ENUM_CONST_CHANGED #/Status/1", "ENUM_CONST_REMOVED #/Status/2", "ENUM_CONST_ADDED #/Status/3",
        ])
        XCTAssertTrue(try check(old, new, level: .fullTransitive).isCompatible)
    }

    func testAddingAndRemovingEnumTypesIsCompatible() throws {
        let old = proto3("message M { int32 s = 1; }\nenum Status { UNKNOWN = 0; }")
        let new = proto3("message M { int32 s = 1; }\nenum Kind { NONE = 0; }")
        XCTAssertEqual(try differences(old, new), ["ENUM_ADDED #/Kind", "ENUM_REMOVED #/Status"])
        XCTAssertTrue(try check(old, new, level: .full).isCompatible)
    }

    private let homeV1 = "syntax = \"proto3\";\npackage devices;\nmessage Home { int32 id = 1; bool on = 2; }\n"
    private let homeV2 = "syntax = \"proto3\";\npackage devices;\nmessage Home { string id = 1; bool on = 2; }\n"
    private let user = proto3("import \"home.proto\";\nmessage Reading { devices.Home home = 1; }")

    func testAnImportedMessageThatChangedIncompatiblyMarksTheField() throws {
        XCTAssertEqual(try differences(user, user, oldImports: ["home.proto": homeV1], newImports: ["home.proto": homeV2]),
                       ["FIELD_SCALAR_KIND_CHANGED #/Home/1", "FIELD_NAMED_TYPE_CHANGED #/Reading/1"])
        let report = CompatibilityChecker().check(
            try ProtocFixture.version(user, imports: ["home.proto": homeV2]),
            against: [try ProtocFixture.version(user, imports: ["home.proto": homeV1])], level: .backward)
        XCTAssertEqual(violatedRules(report), ["FIELD_SCALAR_KIND_CHANGED", "FIELD_NAMED_TYPE_CHANGED"])
        XCTAssertEqual(report.violations.first?.path, "devices.Home.id")
    }

    func testAnImportedMessageUnderAnotherPackageWithTheSameShapeIsCompatible() throws {
        let moved = homeV1.replacingOccurrences(of: "package devices;", with: "package devices2;")
        let newUser = proto3("import \"home.proto\";\nmessage Reading { devices2.Home home = 1; }")
        XCTAssertEqual(try differences(user, newUser, oldImports: ["home.proto": homeV1],
                                       newImports: ["home.proto": moved]), [])
    }

    func testMovingAMessageIntoAnImportRemovesItFromTheSchema() throws {
        let local = proto3("message Reading { Home home = 1; }\nmessage Home { int32 id = 1; bool on = 2; }")
        let imported = "syntax = \"proto3\";\npackage shop;\nmessage Home { int32 id = 1; bool on = 2; }\n"
        let newUser = proto3("import \"home.proto\";\nmessage Reading { Home home = 1; }")
        XCTAssertEqual(try differences(local, newUser, newImports: ["home.proto": imported]), ["MESSAGE_REMOVED #/Home"])
        XCTAssertEqual(try differences(newUser, local, oldImports: ["home.proto": imported]), ["MESSAGE_ADDED #/Home"])
    }

    func testRecursiveImportedMessagesEnd() throws {
        let tree = "syntax = \"proto3\";\npackage t;\nmessage Node { repeated Node children = 1; string label = 2; }\n"
        let tree2 = "syntax = \"proto3\";\npackage t;\nmessage Node { repeated Node children = 1; int64 label = 2; }\n"
        let doc = proto3("import \"tree.proto\";\nmessage Doc { t.Node root = 1; }")
        XCTAssertEqual(try differences(doc, doc, oldImports: ["tree.proto": tree], newImports: ["tree.proto": tree2]),
                       ["FIELD_SCALAR_KIND_CHANGED #/Node/2", "FIELD_NAMED_TYPE_CHANGED #/Doc/1"])
    }
}
