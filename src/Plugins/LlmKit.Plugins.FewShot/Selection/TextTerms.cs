using System.Globalization;
using System.Text;

namespace LlmKit.Plugins.FewShot.Selection;

/// <summary>Lower-cased word n-grams of a text: runs of letters, digits and apostrophes, joined by a space.</summary>
internal static class TextTerms
{
    public static List<string> Words(string text)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        foreach (var rune in text.EnumerateRunes())
        {
            if (Rune.IsLetterOrDigit(rune) || rune.Value == '\'')
            {
                current.Append(Rune.ToLowerInvariant(rune).ToString());
            }
            else if (current.Length > 0)
            {
                words.Add(current.ToString());
                current.Clear();
            }
        }

        if (current.Length > 0)
        {
            words.Add(current.ToString());
        }

        return words;
    }

    public static List<string> NGrams(string text, int maxN)
    {
        var words = Words(text);
        if (maxN == 1)
        {
            return words;
        }

        var terms = new List<string>(words);
        for (int n = 2; n <= maxN; n++)
        {
            for (int i = 0; i + n <= words.Count; i++)
            {
                terms.Add(string.Join(' ', words.GetRange(i, n)));
            }
        }

        return terms;
    }

    public static int StableHash(string text)
    {
        // FNV-1a: unlike string.GetHashCode it is the same in every process, so seeded selection is reproducible.
        uint hash = 2166136261;
        foreach (char c in text)
        {
            hash = (hash ^ c) * 16777619;
        }

        return unchecked((int)hash);
    }

    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
