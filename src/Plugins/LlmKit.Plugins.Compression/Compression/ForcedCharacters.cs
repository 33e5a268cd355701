using System.Text.RegularExpressions;

namespace LlmKit.Plugins.Compression;

/// <summary>Marks the characters of a prompt that compression must keep (force-kept strings and patterns, digits, role markers, line breaks).</summary>
internal sealed class ForcedCharacters
{
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);

    // A number with its internal separators (19:00, 3.5, 1,200, 2024-05-01), so kept digits keep their meaning.
    private static readonly Regex Number = new(@"\d+(?:[.,:/\-]\d+)*", RegexOptions.CultureInvariant | RegexOptions.Compiled, MatchTimeout);
    // A capitalised word of two or more characters after a word, comma, colon, semicolon, quote or bracket on the same
    // line: not the first word of a sentence or line (a crude but predictable named-entity rule).
    private static readonly Regex NamedEntity = new(@"(?<=[\p{L}\p{N},;:'""\u2019)\]][ \t]+)\p{Lu}[\p{L}\p{N}]+(?:[-'\u2019]\p{L}+)*", RegexOptions.CultureInvariant | RegexOptions.Compiled, MatchTimeout);
    private readonly Regex[] _patterns;
    private readonly string[] _strings;
    private readonly bool _digits;
    private readonly bool _lineBreaks;

    public ForcedCharacters(PromptCompressionOptions options)
    {
        var patterns = new List<Regex>();
        foreach (string pattern in options.ForceKeepPatterns)
        {
            patterns.Add(new Regex(pattern, RegexOptions.CultureInvariant, MatchTimeout));
        }

        if (options.KeepRoleMarkers)
        {
            foreach (string pattern in PromptCompressionOptions.RoleMarkerPatterns)
            {
                patterns.Add(new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled, MatchTimeout));
            }
        }

        if (options.KeepNamedEntities)
        {
            patterns.Add(NamedEntity);
        }

        _patterns = [.. patterns];
        _strings = [.. options.ForceKeepStrings];
        _digits = options.KeepDigits;
        _lineBreaks = options.KeepLineStructure;
    }

    /// <summary>One flag per character of <paramref name="text"/>: true where the character must survive.</summary>
    public bool[] Mark(string text)
    {
        var forced = new bool[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            forced[i] = _lineBreaks && c == '\n';
        }

        if (_digits)
        {
            for (Match m = Number.Match(text); m.Success; m = m.NextMatch())
            {
                Array.Fill(forced, true, m.Index, m.Length);
            }
        }

        foreach (string value in _strings)
        {
            for (int at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + 1, StringComparison.Ordinal))
            {
                Array.Fill(forced, true, at, value.Length);
            }
        }

        foreach (Regex pattern in _patterns)
        {
            for (Match m = pattern.Match(text); m.Success; m = m.NextMatch())
            {
                Array.Fill(forced, true, m.Index, m.Length);
            }
        }

        return forced;
    }
}
