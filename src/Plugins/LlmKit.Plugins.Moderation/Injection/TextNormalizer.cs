using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace LlmKit.Plugins.Moderation.Injection;

/// <summary>A text as the injection checks see it: normalised, plus the other readings an attacker may hide in it.</summary>
public sealed class NormalizedText
{
    internal NormalizedText(string text, IReadOnlyList<string> hiddenReadings, int invisibleCharacters, int smuggledCharacters)
    {
        Text = text;
        HiddenReadings = hiddenReadings;
        InvisibleCharacterCount = invisibleCharacters;
        SmuggledCharacterCount = smuggledCharacters;
    }

    /// <summary>NFKC-normalised text without zero-width, bidi or control characters, mixed-script homoglyphs folded to Latin.</summary>
    public string Text { get; }

    /// <summary>
    /// Other readings of the text: decoded base64/hex/percent-encoded payloads, letters spaced apart ("i g n o r e")
    /// joined, digit-for-letter spelling ("1gn0re") undone, and text smuggled in Unicode tag characters.
    /// </summary>
    public IReadOnlyList<string> HiddenReadings { get; }

    /// <summary>Zero-width, bidi-control and other format characters removed from the text.</summary>
    public int InvisibleCharacterCount { get; }

    /// <summary>Unicode tag characters (U+E0000 block) that spelled hidden ASCII text.</summary>
    public int SmuggledCharacterCount { get; }
}

/// <summary>
/// Normalises text before injection checks so that look-alike and hidden spellings of an attack read like the plain one.
/// Thread-safe: stateless.
/// </summary>
public static partial class TextNormalizer
{
    private const int MaxPayloads = 32;
    private const int MaxDecodeDepth = 2;

    /// <summary>Normalises <paramref name="text"/>; see <see cref="NormalizedText"/> for what is done.</summary>
    /// <param name="text">Any text; null is treated as empty.</param>
    public static NormalizedText Normalize(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return new NormalizedText(string.Empty, [], 0, 0);
        }

        var readings = new List<string>();
        string clean = Clean(text, out int invisible, out string? smuggled, out int smuggledCount);
        if (smuggled is not null)
        {
            readings.Add(smuggled);
        }

        AddDerivedReadings(clean, readings, depth: 0);
        return new NormalizedText(clean, readings, invisible, smuggledCount);
    }

    private static string Clean(string text, out int invisible, out string? smuggled, out int smuggledCount)
    {
        invisible = 0;
        smuggledCount = 0;
        StringBuilder? hidden = null;
        var builder = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            int value = rune.Value;
            if (value is >= 0xE0000 and <= 0xE007F)
            {
                // Tag characters render as nothing but map one-to-one onto ASCII: "ASCII smuggling".
                smuggledCount++;
                if (value is >= 0xE0020 and <= 0xE007E)
                {
                    (hidden ??= new StringBuilder()).Append((char)(value - 0xE0000));
                }

                continue;
            }

            var category = Rune.GetUnicodeCategory(rune);
            if (category == UnicodeCategory.Format)
            {
                // Zero-width spaces/joiners, soft hyphens, bidi overrides: invisible, used to split trigger words.
                invisible++;
                continue;
            }

            if (category == UnicodeCategory.Control && value is not ('\n' or '\t'))
            {
                builder.Append(value == '\r' ? '\n' : ' ');
                continue;
            }

            builder.Append(rune.ToString());
        }

        smuggled = hidden?.ToString();
        string normalized = builder.ToString().Normalize(NormalizationForm.FormKC);
        return FoldMixedScriptHomoglyphs(normalized);
    }

    /// <summary>In words that mix Latin with Cyrillic or Greek letters, replaces the look-alikes by Latin ones.</summary>
    private static string FoldMixedScriptHomoglyphs(string text)
    {
        char[]? chars = null;
        int start = 0;
        for (int i = 0; i <= text.Length; i++)
        {
            if (i < text.Length && char.IsLetter(text[i]))
            {
                continue;
            }

            if (i > start && IsMixedScript(text.AsSpan(start, i - start)))
            {
                chars ??= text.ToCharArray();
                for (int j = start; j < i; j++)
                {
                    chars[j] = Homoglyphs.TryGetValue(chars[j], out char latin) ? latin : chars[j];
                }
            }

            start = i + 1;
        }

        return chars is null ? text : new string(chars);
    }

    private static bool IsMixedScript(ReadOnlySpan<char> word)
    {
        bool latin = false, other = false;
        foreach (char c in word)
        {
            if (c is >= 'A' and <= 'Z' or >= 'a' and <= 'z')
            {
                latin = true;
            }
            else if (Homoglyphs.ContainsKey(c))
            {
                other = true;
            }
        }

        return latin && other;
    }

    private static void AddDerivedReadings(string text, List<string> readings, int depth)
    {
        foreach (var payload in DecodePayloads(text))
        {
            if (readings.Count >= MaxPayloads)
            {
                return;
            }

            string decoded = Clean(payload, out _, out _, out _);
            readings.Add(decoded);
            if (depth + 1 < MaxDecodeDepth)
            {
                AddDerivedReadings(decoded, readings, depth + 1);
            }
        }

        if (depth == 0)
        {
            string joined = SpacedLetters().Replace(text, m => RemoveSeparators(m.Value));
            if (!ReferenceEquals(joined, text) && joined != text)
            {
                readings.Add(joined);
            }

            // Text written backwards (".snoitcurtsni suoiverp lla erongi"): the rules also read it reversed.
            if (text.Length <= ReversedReadingMaxLength)
            {
                var reversed = text.ToCharArray();
                Array.Reverse(reversed);
                readings.Add(new string(reversed));
            }

            string unLeet = UndoDigitSpelling(text);
            if (unLeet != text)
            {
                readings.Add(unLeet);
            }
        }
    }

    private static IEnumerable<string> DecodePayloads(string text)
    {
        foreach (Match match in Base64Run().Matches(text))
        {
            if (TryDecodeBase64(match.Value, out string? decoded))
            {
                yield return decoded;
            }
        }

        foreach (Match match in HexRun().Matches(text))
        {
            if (TryDecodeHex(match.Value, out string? decoded))
            {
                yield return decoded;
            }
        }

        foreach (Match match in PercentRun().Matches(text))
        {
            int start = match.Index;
            while (start > 0 && !char.IsWhiteSpace(text[start - 1]))
            {
                start--;
            }

            string run = text[start..(match.Index + match.Length)];
            string decoded;
            try
            {
                decoded = Uri.UnescapeDataString(run);
            }
            catch (UriFormatException)
            {
                continue;
            }

            if (decoded != run && IsMostlyPrintable(decoded))
            {
                yield return decoded;
            }
        }
    }

    private static bool TryDecodeBase64(string run, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? decoded)
    {
        decoded = null;
        string body = run.TrimEnd('=');
        // Restore the padding the run may have lost, then try the URL-safe alphabet too.
        string padded = body.Replace('-', '+').Replace('_', '/');
        padded += (padded.Length % 4) switch { 2 => "==", 3 => "=", _ => string.Empty };
        if (padded.Length % 4 != 0)
        {
            return false;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(padded.Length);
        try
        {
            if (!Convert.TryFromBase64String(padded, buffer, out int written))
            {
                return false;
            }

            return TryUtf8(buffer.AsSpan(0, written), out decoded);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool TryDecodeHex(string run, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? decoded)
    {
        decoded = null;
        var digits = new StringBuilder(run.Length);
        for (int i = 0; i < run.Length; i++)
        {
            char c = run[i];
            if (c == '\\' || c == ' ' || c == ':' || c == ',')
            {
                continue;
            }

            if ((c == 'x' || c == 'X') && i > 0 && run[i - 1] == '0')
            {
                digits.Length--; // a "0x" prefix
                continue;
            }

            if (c == 'x' || c == 'X')
            {
                continue; // a "\x" prefix
            }

            digits.Append(c);
        }

        if (digits.Length % 2 != 0)
        {
            return false;
        }

        byte[] bytes;
        try
        {
            bytes = Convert.FromHexString(digits.ToString());
        }
        catch (FormatException)
        {
            return false;
        }

        return TryUtf8(bytes, out decoded);
    }

    private static bool TryUtf8(ReadOnlySpan<byte> bytes, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? decoded)
    {
        decoded = null;
        if (bytes.Length < 4 || !System.Text.Unicode.Utf8.IsValid(bytes))
        {
            return false;
        }

        string text = Encoding.UTF8.GetString(bytes);
        if (!IsMostlyPrintable(text))
        {
            return false;
        }

        decoded = text;
        return true;
    }

    private static bool IsMostlyPrintable(string text)
    {
        int printable = 0, letters = 0;
        foreach (char c in text)
        {
            if (!char.IsControl(c) || c is '\n' or '\t' or '\r')
            {
                printable++;
            }

            if (char.IsLetter(c))
            {
                letters++;
            }
        }

        // Random bytes that happen to be valid UTF-8 rarely are 95% printable and a third letters.
        return printable >= 0.95 * text.Length && letters >= 0.3 * text.Length;
    }

    private const int ReversedReadingMaxLength = 4_096;

    private static string RemoveSeparators(string spaced)
    {
        // "I.g.n.o.r.e a.l.l": where letters are joined by another separator, a space is the break between words.
        bool spacesAreWordBreaks = spaced.Any(c => !char.IsLetterOrDigit(c) && c != ' ');
        var builder = new StringBuilder(spaced.Length);
        foreach (char c in spaced)
        {
            if (char.IsLetterOrDigit(c) || (c == ' ' && spacesAreWordBreaks))
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static string UndoDigitSpelling(string text)
    {
        char[]? chars = null;
        int start = 0;
        for (int i = 0; i <= text.Length; i++)
        {
            if (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] is '@' or '$'))
            {
                continue;
            }

            var word = text.AsSpan(start, i - start);
            if (HasLettersAndSubstitutes(word))
            {
                chars ??= text.ToCharArray();
                for (int j = start; j < i; j++)
                {
                    chars[j] = chars[j] switch
                    {
                        '0' => 'o', '1' => 'i', '3' => 'e', '4' => 'a', '5' => 's', '7' => 't', '@' => 'a', '$' => 's', var c => c,
                    };
                }
            }

            start = i + 1;
        }

        return chars is null ? text : new string(chars);
    }

    private static bool HasLettersAndSubstitutes(ReadOnlySpan<char> word)
    {
        int letters = 0, substitutes = 0;
        foreach (char c in word)
        {
            if (char.IsLetter(c))
            {
                letters++;
            }
            else if (c is '0' or '1' or '3' or '4' or '5' or '7' or '@' or '$')
            {
                substitutes++;
            }
        }

        // "1gn0re", "1gn0r3" but not "50" or "2nd": at least as many letters as look-alike digits. (An id such as
        // "8f3kQ9zP2m" may be re-read too; the reading only adds a text for the rules to check.)
        return letters >= 2 && substitutes >= 1 && substitutes <= letters;
    }

    // Runs long enough that ordinary words do not match (16+ chars from the base64 alphabet, at least one digit or +/ hint not required).
    [GeneratedRegex(@"[A-Za-z0-9+/_\-]{16,}={0,2}", RegexOptions.CultureInvariant)]
    private static partial Regex Base64Run();

    [GeneratedRegex(@"(?:(?:\\x|0x)?[0-9A-Fa-f]{2}[ :,]?){8,}", RegexOptions.CultureInvariant)]
    private static partial Regex HexRun();

    // Three or more percent escapes in one run of non-space characters, starting at a '%' so that a failed attempt
    // costs only the characters up to the next '%' (linear time); the caller widens the match to the whole word.
    [GeneratedRegex(@"%[0-9A-Fa-f]{2}(?:[^%\s]*%[0-9A-Fa-f]{2}){2,}[^%\s]*", RegexOptions.CultureInvariant)]
    private static partial Regex PercentRun();

    // Four or more single letters separated by one space, dot, dash, underscore or asterisk: "i g n o r e".
    [GeneratedRegex(@"\b(?:\p{L}[ .\-_*]){3,}\p{L}\b", RegexOptions.CultureInvariant)]
    private static partial Regex SpacedLetters();

    private static readonly Dictionary<char, char> Homoglyphs = new()
    {
        // Cyrillic
        ['а'] = 'a', ['е'] = 'e', ['о'] = 'o', ['р'] = 'p', ['с'] = 'c', ['у'] = 'y', ['х'] = 'x', ['і'] = 'i', ['ј'] = 'j', ['ѕ'] = 's',
        ['ԁ'] = 'd', ['ԛ'] = 'q', ['ԝ'] = 'w', ['һ'] = 'h', ['ӏ'] = 'l', ['к'] = 'k', ['м'] = 'm', ['т'] = 't', ['в'] = 'b', ['н'] = 'h',
        ['А'] = 'A', ['В'] = 'B', ['Е'] = 'E', ['К'] = 'K', ['М'] = 'M', ['Н'] = 'H', ['О'] = 'O', ['Р'] = 'P', ['С'] = 'C', ['Т'] = 'T',
        ['Х'] = 'X', ['У'] = 'Y', ['І'] = 'I', ['Ј'] = 'J', ['Ѕ'] = 'S',
        // Greek
        ['α'] = 'a', ['ο'] = 'o', ['ρ'] = 'p', ['ν'] = 'v', ['ι'] = 'i', ['κ'] = 'k', ['τ'] = 't', ['υ'] = 'u', ['ε'] = 'e',
        ['Α'] = 'A', ['Β'] = 'B', ['Ε'] = 'E', ['Ζ'] = 'Z', ['Η'] = 'H', ['Ι'] = 'I', ['Κ'] = 'K', ['Μ'] = 'M', ['Ν'] = 'N', ['Ο'] = 'O',
        ['Ρ'] = 'P', ['Τ'] = 'T', ['Υ'] = 'Y', ['Χ'] = 'X',
    };
}
