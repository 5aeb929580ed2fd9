import { describe, expect, test } from "vitest";
import { FAMILIES } from "./families.js";
import { parse, render, type Sample } from "./exposition.js";
import { validateExposition } from "./test-support.js";

const good = `# HELP alpha_value Help with \\\\ and \\n escapes.
# TYPE alpha_value gauge
alpha_value{plan="x",repository="q\\"u\\\\o\\nte"} 1.5
alpha_value{plan="y"} -Inf
# HELP c_total Plain.
# TYPE c_total counter
c_total 3e+21 1700000000000
`;

describe("the validator", () => {
  test("accepts valid exposition text", async () => {
    expect(await validateExposition(good)).toEqual([]);
    expect(await validateExposition("")).toEqual([]);
  });

  test.each([
    ["missing HELP/TYPE", "a 1\n"],
    ["TYPE after samples", "# HELP a h\na 1\n# TYPE a gauge\n"],
    ["no trailing newline", "# HELP a h\n# TYPE a gauge\na 1"],
    ["bad value", "# HELP a h\n# TYPE a gauge\na one\n"],
    ["unquoted label", "# HELP a h\n# TYPE a gauge\na{p=x} 1\n"],
    ["bad escape", '# HELP a h\n# TYPE a gauge\na{p="\\x"} 1\n'],
    ["raw quote", '# HELP a h\n# TYPE a gauge\na{p="a"b"} 1\n'],
    ["bad name", "# HELP 1a h\n# TYPE 1a gauge\n1a 1\n"],
    ["unknown type", "# HELP a h\n# TYPE a meter\na 1\n"],
    ["repeated series", '# HELP a h\n# TYPE a gauge\na{p="x"} 1\na{p="x"} 2\n'],
    [
      "interleaved families",
      '# HELP a h\n# TYPE a gauge\n# HELP b h\n# TYPE b gauge\na 1\nb 1\na{x="1"} 1\n',
    ],
  ])("rejects %s", async (_, text) => {
    expect(await validateExposition(text)).not.toEqual([]);
  });
});

describe("render and parse", () => {
  test("round trip keeps awkward label values and special numbers", async () => {
    const samples: Sample[] = [
      {
        name: "snapback_backup_errors",
        labels: { plan: "p", repository: 'a "b" \\ c\nd}, e=' },
        value: 2,
      },
      { name: "snapback_last_run_duration_seconds", labels: { plan: "p" }, value: 1e21 },
      { name: "snapback_last_run_warnings", labels: { plan: "p" }, value: NaN },
      { name: "snapback_last_run_timestamp_seconds", labels: { plan: "p" }, value: 1732243200.123 },
    ];
    const text = render(FAMILIES, samples);
    expect(await validateExposition(text)).toEqual([]);
    expect(text).toContain(
      'snapback_backup_errors{plan="p",repository="a \\"b\\" \\\\ c\\nd}, e="} 2\n',
    );
    const back = parse(text);
    expect(back).toHaveLength(4);
    for (const s of samples) expect(back).toContainEqual(s);
  });

  test("parse refuses what is not a sample", () => {
    expect(() => parse("garbage here\n")).toThrow(/line 1/);
    expect(() => parse('x{a="1" b="2"} 1\n')).toThrow(/line 1/);
    expect(parse("# only a comment\n\n")).toEqual([]);
  });
});
