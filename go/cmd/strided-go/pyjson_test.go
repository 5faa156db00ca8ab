package main

import "testing"

// Python's json.dumps writes these; `strided-go predict --json` must write the same bytes.
func TestPythonJSONFormatting(t *testing.T) {
	for f, want := range map[float64]string{
		1: "1.0", 0: "0.0", 0.5: "0.5", 0.1: "0.1", 1e-4: "0.0001", 1e-5: "1e-05", 1.2345e-7: "1.2345e-07",
		0.9999999999999999: "0.9999999999999999", 3.0517578125e-05: "3.0517578125e-05", 0.00012: "0.00012",
	} {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%v) = %s, Python writes %s", f, got, want)
		}
	}
	for s, want := range map[string]string{
		"cat": `"cat"`, `a"b\c`: `"a\"b\\c"`, "é": `"\u00e9"`, "tab\t": `"tab\t"`, "😀": `"\ud83d\ude00"`,
		"\x01": `"\u0001"`,
	} {
		if got := pyString(s); got != want {
			t.Errorf("pyString(%q) = %s, Python writes %s", s, got, want)
		}
	}
}
