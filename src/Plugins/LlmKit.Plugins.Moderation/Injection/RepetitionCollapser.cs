using System.Text;

namespace LlmKit.Plugins.Moderation.Injection;

/// <summary>
/// Removes repetition from a text before <see cref="PerplexityHeuristics"/> scores it, so each piece of content is
/// scored once. Repetition alone is not an attack, but it skews perplexity both ways: a passage copied many times is
/// predictable from its first copy (perplexity falls towards 1 and characters ÷ perplexity soared: "I want soup." × 2,000
/// looked like a long fluent jailbreak), while a small model that copies badly finds "la la la ..." or the pipes of a
/// table as surprising as an adversarial suffix. Three kinds of repeat go, the first copy (or, in a run, one copy) stays:
/// <list type="number">
/// <item>a sentence or line already seen (case and spacing ignored);</item>
/// <item>a run of one word sequence of up to <see cref="MaxPeriodWords"/> words ("la la la", "row, row, row");</item>
/// <item>a word of punctuation alone already seen (table pipes and rules, bullets).</item>
/// </list>
/// Distinct content is never removed, so an attack cannot hide behind repetition: its text is still scored once.
/// Whitespace after each kept word is kept. Linear in the text's length. Thread-safe: stateless.
/// </summary>
internal static class RepetitionCollapser
{
    /// <summary>Longest word sequence whose back-to-back repeats are collapsed.</summary>
    public const int MaxPeriodWords = 8;

    /// <summary>The text with repeated sentences, lines, word runs and punctuation words removed.</summary>
    public static string Collapse(string text)
    {
        var words = Split(text);
        if (words.Count < 2)
        {
            return text;
        }

        var kept = DropRepeatedSegments(words);
        kept = DropWordRuns(kept);
        kept = DropRepeatedPunctuation(kept);
        if (kept.Count == words.Count)
        {
            return text;
        }

        var builder = new StringBuilder(text.Length);
        for (int i = 0; i < kept.Count; i++)
        {
            builder.Append(kept[i].Text);
            if (i < kept.Count - 1)
            {
                builder.Append(kept[i].Separator.Length == 0 ? " " : kept[i].Separator);
            }
        }

        return builder.ToString();
    }

    /// <summary>A whitespace-free run, the whitespace after it, and its comparison key.</summary>
    private readonly record struct Word(string Text, string Separator, string Key)
    {
        /// <summary>True after a sentence end or before a line break: the word closes a segment.</summary>
        public bool EndsSegment => Separator.Contains('\n', StringComparison.Ordinal) || Text[^1] is '.' or '!' or '?';

        public bool IsPunctuation => Key.Length == 0;
    }

    private static List<Word> Split(string text)
    {
        var words = new List<Word>();
        int i = 0;
        while (i < text.Length && char.IsWhiteSpace(text[i]))
        {
            i++;
        }

        while (i < text.Length)
        {
            int start = i;
            while (i < text.Length && !char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            int end = i;
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            string word = text[start..end];
            words.Add(new Word(word, text[end..i], KeyOf(word)));
        }

        return words;
    }

    /// <summary>Letters and digits, lower-cased: "Row," and "row" are one word, "|" and "|---|" have no key.</summary>
    private static string KeyOf(string word)
    {
        var builder = new StringBuilder(word.Length);
        foreach (char c in word)
        {
            if (char.IsLetterOrDigit(c))
            {
                builder.Append(char.ToLowerInvariant(c));
            }
        }

        return builder.ToString();
    }

    private static List<Word> DropRepeatedSegments(List<Word> words)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var kept = new List<Word>(words.Count);
        var key = new StringBuilder();
        int start = 0;
        for (int i = 0; i < words.Count; i++)
        {
            if (!words[i].EndsSegment && i < words.Count - 1)
            {
                continue;
            }

            key.Clear();
            for (int j = start; j <= i; j++)
            {
                key.Append(words[j].Text.ToLowerInvariant()).Append(' ');
            }

            if (seen.Add(key.ToString()))
            {
                kept.AddRange(words.GetRange(start, i - start + 1));
            }
            else
            {
                KeepLineBreak(kept, words[i]);
            }

            start = i + 1;
        }

        return kept;
    }

    private static List<Word> DropWordRuns(List<Word> words)
    {
        // Where a sequence is followed by a copy of itself, skip it: of a run of copies the last one stays.
        var kept = new List<Word>(words.Count);
        int i = 0;
        while (i < words.Count)
        {
            int period = RepeatPeriodAt(words, i);
            if (period > 0)
            {
                KeepLineBreak(kept, words[i + period - 1]);
                i += period;
                continue;
            }

            kept.Add(words[i]);
            i++;
        }

        return kept;
    }

    private static int RepeatPeriodAt(List<Word> words, int at)
    {
        for (int period = 1; period <= MaxPeriodWords && at + 2 * period <= words.Count; period++)
        {
            bool repeats = true;
            for (int k = 0; k < period && repeats; k++)
            {
                var (a, b) = (words[at + k], words[at + period + k]);
                repeats = a.IsPunctuation || b.IsPunctuation
                    ? string.Equals(a.Text, b.Text, StringComparison.Ordinal)
                    : string.Equals(a.Key, b.Key, StringComparison.Ordinal);
            }

            if (repeats)
            {
                return period;
            }
        }

        return 0;
    }

    private static List<Word> DropRepeatedPunctuation(List<Word> words)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var kept = new List<Word>(words.Count);
        foreach (var word in words)
        {
            if (!word.IsPunctuation || seen.Add(word.Text))
            {
                kept.Add(word);
            }
            else
            {
                KeepLineBreak(kept, word);
            }
        }

        return kept;
    }

    /// <summary>A dropped word's line break passes to the word kept before it, so kept lines stay lines.</summary>
    private static void KeepLineBreak(List<Word> kept, Word dropped)
    {
        if (kept.Count > 0 && dropped.Separator.Contains('\n', StringComparison.Ordinal) && !kept[^1].Separator.Contains('\n', StringComparison.Ordinal))
        {
            kept[^1] = kept[^1] with { Separator = dropped.Separator };
        }
    }
}
