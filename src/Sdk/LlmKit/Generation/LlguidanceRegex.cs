using System.Globalization;
using System.Text;
using LlmKit.Generation.Constraints;

namespace LlmKit.Generation;

/// <summary>
/// Writes LlmKit's parsed regex subset (and choices) in the regex syntax llguidance reads (Rust <c>regex-syntax</c>),
/// so onnxruntime-genai's guidance backend constrains to the same language. It is written from the parsed tree, not
/// the pattern text: <c>\d \w \s</c> are Unicode-aware in Rust but ASCII in LlmKit, and escapes, anchors and
/// class syntax (<c>&amp;&amp;</c>, nested <c>[</c>) differ, so every character set is spelled out as explicit
/// <c>\x{...}</c> ranges. Stateless and thread-safe.
/// </summary>
internal static class LlguidanceRegex
{
    /// <summary>The llguidance pattern for a parsed regex.</summary>
    public static string From(RegexNode node)
    {
        var text = new StringBuilder();
        Write(node, text);
        return text.ToString();
    }

    /// <summary>An alternation of the options as literal text.</summary>
    public static string FromChoices(IReadOnlyList<string> options)
    {
        var text = new StringBuilder("(?:");
        for (int i = 0; i < options.Count; i++)
        {
            if (i > 0)
            {
                text.Append('|');
            }

            foreach (var rune in options[i].EnumerateRunes())
            {
                WriteCharacter(rune.Value, text);
            }
        }

        return text.Append(')').ToString();
    }

    private static void Write(RegexNode node, StringBuilder text)
    {
        switch (node)
        {
            case RegexNode.Chars chars:
                WriteSet(chars.Set, text);
                break;
            case RegexNode.Concat concat:
                text.Append("(?:");
                foreach (var part in concat.Parts)
                {
                    Write(part, text);
                }

                text.Append(')');
                break;
            case RegexNode.Alternation alternation:
                text.Append("(?:");
                for (int i = 0; i < alternation.Options.Count; i++)
                {
                    if (i > 0)
                    {
                        text.Append('|');
                    }

                    Write(alternation.Options[i], text);
                }

                text.Append(')');
                break;
            case RegexNode.Repeat repeat:
                text.Append("(?:");
                Write(repeat.Body, text);
                text.Append("){").Append(repeat.Min.ToString(CultureInfo.InvariantCulture)).Append(',');
                if (repeat.Max is { } max)
                {
                    text.Append(max.ToString(CultureInfo.InvariantCulture));
                }

                text.Append('}');
                break;
            default:
                text.Append("(?:)"); // RegexNode.Nothing: the empty string
                break;
        }
    }

    private static void WriteSet(CodePointSet set, StringBuilder text)
    {
        var ranges = set.Ranges;
        if (ranges.Count == 1 && ranges[0].Lo == ranges[0].Hi)
        {
            WriteCharacter(ranges[0].Lo, text);
            return;
        }

        if (ranges.Count == 0)
        {
            text.Append(@"[^\x{0}-\x{10FFFF}]"); // matches nothing, as an empty LlmKit set does
            return;
        }

        text.Append('[');
        foreach (var (lo, hi) in ranges)
        {
            // Rust's escapes must be scalar values: surrogate code points (never encodable in UTF-8) are left out.
            WriteRange(lo, Math.Min(hi, 0xD7FF), text);
            WriteRange(Math.Max(lo, 0xE000), hi, text);
        }

        text.Append(']');
    }

    private static void WriteRange(int lo, int hi, StringBuilder text)
    {
        if (lo > hi)
        {
            return;
        }

        WriteEscaped(lo, text);
        if (hi != lo)
        {
            text.Append('-');
            WriteEscaped(hi, text);
        }
    }

    private static void WriteCharacter(int codePoint, StringBuilder text)
    {
        if (codePoint < 0x80 && char.IsAsciiLetterOrDigit((char)codePoint))
        {
            text.Append((char)codePoint);
        }
        else
        {
            WriteEscaped(codePoint, text);
        }
    }

    private static void WriteEscaped(int codePoint, StringBuilder text) =>
        text.Append(@"\x{").Append(codePoint.ToString("X", CultureInfo.InvariantCulture)).Append('}');
}
