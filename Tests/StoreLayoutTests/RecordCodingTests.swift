import StoreLayout
import Testing

/// The field encodings every record is built from.
@Suite struct RecordCodingTests {
    @Test func everyFieldReadsBackAsWritten() throws {
        var writer = RecordWriter(format: 7)
        writer.write(UInt8(0xEE))
        writer.write(UInt32(0x0102_0304))
        writer.write(UInt64.max - 1)
        writer.write(Int64.min)
        writer.write(true)
        writer.write(false)
        writer.write([UInt8]([9, 8, 7]))
        writer.write("héllo")
        writer.write(UInt64?.none)
        writer.write(UInt64?.some(5))
        writer.write(String?.none)
        writer.write(String?.some(""))
        writer.write([UInt8]?.none)
        writer.write([UInt8]?.some([]))
        let bytes = writer.bytes

        try bytes.withUnsafeBytes { raw in
            var reader = try RecordReader(raw, record: "Test")
            #expect(reader.format == 7)
            #expect(try reader.readUInt8() == 0xEE)
            #expect(try reader.readUInt32() == 0x0102_0304)
            #expect(try reader.readUInt64() == .max - 1)
            #expect(try reader.readInt64() == .min)
            #expect(try reader.readBool() == true)
            #expect(try reader.readBool() == false)
            #expect(try reader.readBytes() == [9, 8, 7])
            #expect(try reader.readString() == "héllo")
            #expect(try reader.readOptionalUInt64() == nil)
            #expect(try reader.readOptionalUInt64() == 5)
            #expect(try reader.readOptionalString() == nil)
            #expect(try reader.readOptionalString() == "")
            #expect(try reader.readOptionalBytes() == nil)
            #expect(try reader.readOptionalBytes() == [])
            try reader.finish()
            #expect(throws: LayoutDecodingError.self) { try reader.readUInt8() }
        }
    }

    @Test func fieldsAreBigEndianAndLengthPrefixed() {
        var writer = RecordWriter(format: 1)
        writer.write(UInt32(1))
        writer.write(Int64(-1))
        writer.write("ab")
        writer.write(UInt64?.some(2))
        #expect(
            writer.bytes == [1] + [0, 0, 0, 1] + [UInt8](repeating: 0xFF, count: 8) + [0, 0, 0, 2, 0x61, 0x62]
                + [1, 0, 0, 0, 0, 0, 0, 0, 2])
    }

    @Test func emptyBytesAreRefused() {
        #expect(throws: LayoutDecodingError.self) {
            try [UInt8]().withUnsafeBytes { raw in _ = try RecordReader(raw, record: "Test") }
        }
    }

    @Test func unreadBytesAreRefusedAtTheEnd() throws {
        try [UInt8]([1, 0, 0]).withUnsafeBytes { raw in
            var reader = try RecordReader(raw, record: "Test")
            _ = try reader.readUInt8()
            let error = #expect(throws: LayoutDecodingError.self) { try reader.finish() }
            #expect(error?.record == "Test")
            #expect(error?.description.contains("Test") == true)
        }
    }

    @Test func anUnknownFormatErrorNamesTheRecord() throws {
        try [UInt8]([9]).withUnsafeBytes { raw in
            let reader = try RecordReader(raw, record: "Thing")
            let error = reader.unknownFormat()
            #expect(error.record == "Thing")
            #expect(error.reason.contains("9"))
        }
    }
}
