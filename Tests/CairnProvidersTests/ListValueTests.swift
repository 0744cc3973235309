import CairnProviders
import Testing

@Suite struct ListValueTests {
    @Test func jsonArrayOfStrings() {
        #expect(ListValue.parse(jsonValue: ["a", " b "] as [Any]) == ["a", " b "])
        #expect(ListValue.parse(jsonValue: [] as [Any]) == [])
    }

    @Test func stringHoldingAJSONArray() {
        #expect(ListValue.parse(text: #"["ghcr.io/a/b:1", "c"]"#) == ["ghcr.io/a/b:1", "c"])
        #expect(ListValue.parse(jsonValue: #"  ["x"]  "#) == ["x"])
    }

    @Test func newlineSeparatedItemsAreTrimmedAndEmptyLinesDropped() {
        #expect(ListValue.parse(text: "a\n  b  \n\n\r\nc\r\n") == ["a", "b", "c"])
        #expect(ListValue.parse(text: "single") == ["single"])
        #expect(ListValue.parse(text: "") == [])
        #expect(ListValue.parse(text: " \n \n") == [])
    }

    @Test func rejectsOtherForms() {
        #expect(ListValue.parse(jsonValue: 3) == nil)
        #expect(ListValue.parse(jsonValue: ["a", 1] as [Any]) == nil)
        #expect(ListValue.parse(text: "[1, 2]") == nil)
        #expect(ListValue.parse(text: "[not json") == nil)
        #expect(ListValue.parse(text: #"["a", null]"#) == nil)
    }
}
