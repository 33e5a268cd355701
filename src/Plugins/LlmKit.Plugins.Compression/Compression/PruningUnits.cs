namespace LlmKit.Plugins.Compression;

/// <summary>
/// The units pruning keeps or drops: single tokens, or whole words (consecutive word-character tokens), so
/// compressed text is made of words rather than word fragments. A unit is forced when any of its tokens is.
/// A unit's value is the mean self-information of its tokens (information per token of budget).
/// </summary>
internal sealed class PruningUnits
{
    private readonly int[] _starts; // token index where each unit starts; unit u ends where u+1 starts
    private readonly int _tokenCount;
    private readonly bool[] _forced;

    private PruningUnits(int[] starts, int tokenCount, bool[] forced)
    {
        _starts = starts;
        _tokenCount = tokenCount;
        _forced = forced;
        for (int u = 0; u < starts.Length; u++)
        {
            ForcedTokenCount += forced[u] ? End(u) - Start(u) : 0;
        }
    }

    public int Count => _starts.Length;

    public int ForcedTokenCount { get; }

    public int Start(int unit) => _starts[unit];

    public int End(int unit) => unit + 1 < _starts.Length ? _starts[unit + 1] : _tokenCount;

    public static PruningUnits Create(TokenizedText tokens, bool[] forcedTokens, bool wholeWords)
    {
        var starts = new List<int>(tokens.Count);
        var forced = new List<bool>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            bool continuesWord = wholeWords && i > 0 && ContinuesWord(tokens, i);
            if (!continuesWord)
            {
                starts.Add(i);
                forced.Add(forcedTokens[i]);
            }
            else
            {
                forced[^1] |= forcedTokens[i];
            }
        }

        return new PruningUnits([.. starts], tokens.Count, [.. forced]);
    }

    /// <summary>Splits the units into segments of at most <paramref name="maxTokens"/> tokens, cut at unit boundaries (a longer unit is a segment of its own).</summary>
    public List<(int FirstUnit, int UnitCount)> Segments(int maxTokens)
    {
        var segments = new List<(int, int)>();
        int first = 0;
        while (first < Count)
        {
            int last = first;
            while (last + 1 < Count && End(last + 1) - Start(first) <= maxTokens)
            {
                last++;
            }

            segments.Add((first, last - first + 1));
            first = last + 1;
        }

        return segments;
    }

    public double MeanSelfInformation(int unit, float[] selfInformation)
    {
        double sum = 0;
        for (int i = Start(unit); i < End(unit); i++)
        {
            sum += selfInformation[i];
        }

        return sum / (End(unit) - Start(unit));
    }

    /// <summary>The prunable units of a segment, most surprising (highest mean self-information) first; ties in text order.</summary>
    public List<int> RankPrunable(int firstUnit, int unitCount, float[] selfInformation)
    {
        var ranked = new List<int>(unitCount);
        var values = new Dictionary<int, double>(unitCount);
        for (int u = firstUnit; u < firstUnit + unitCount; u++)
        {
            if (!_forced[u])
            {
                ranked.Add(u);
                values[u] = MeanSelfInformation(u, selfInformation);
            }
        }

        ranked.Sort((a, b) => values[a] != values[b] ? values[b].CompareTo(values[a]) : a.CompareTo(b));
        return ranked;
    }

    /// <summary>Keeps the forced units and, among the rest, the most surprising ones until <paramref name="keepFraction"/> of the prunable tokens is reached (or, in threshold mode, those above the threshold).</summary>
    public void SelectInSegment(int firstUnit, int unitCount, float[] selfInformation, bool[] keep, double keepFraction, double maxSelfInformation)
    {
        int prunableTokens = 0;
        for (int u = firstUnit; u < firstUnit + unitCount; u++)
        {
            keep[u] = _forced[u];
            if (!_forced[u])
            {
                prunableTokens += End(u) - Start(u);
                if (!double.IsNaN(maxSelfInformation))
                {
                    keep[u] = MeanSelfInformation(u, selfInformation) > maxSelfInformation;
                }
            }
        }

        if (!double.IsNaN(maxSelfInformation))
        {
            return;
        }

        int quota = (int)Math.Round(keepFraction * prunableTokens, MidpointRounding.AwayFromZero);
        int kept = 0;
        foreach (int u in RankPrunable(firstUnit, unitCount, selfInformation))
        {
            int size = End(u) - Start(u);
            if (kept + size > quota)
            {
                continue;
            }

            keep[u] = true;
            kept += size;
        }
    }

    /// <summary>Forced units plus the first <paramref name="k"/> units of <paramref name="order"/>.</summary>
    public bool[] KeepFirst(List<int> order, int k)
    {
        var keep = (bool[])_forced.Clone();
        for (int j = 0; j < k; j++)
        {
            keep[order[j]] = true;
        }

        return keep;
    }

    /// <summary>Expands a per-unit decision to a per-token one.</summary>
    public bool[] TokenMask(bool[] keepUnit)
    {
        var mask = new bool[_tokenCount];
        for (int u = 0; u < Count; u++)
        {
            if (keepUnit[u])
            {
                Array.Fill(mask, true, Start(u), End(u) - Start(u));
            }
        }

        return mask;
    }

    /// <summary>A token continues the previous one's word when both sides of their boundary are word characters.</summary>
    private static bool ContinuesWord(TokenizedText tokens, int index)
    {
        int boundary = tokens.Starts[index];
        int previousStart = tokens.Starts[index - 1];
        if (boundary == previousStart || boundary >= tokens.Text.Length || tokens.End(index) == boundary)
        {
            return boundary == previousStart; // zero-width tokens stay with their neighbour
        }

        return IsWordCharacter(tokens.Text, boundary) && IsWordCharacter(tokens.Text, boundary - 1);
    }

    /// <summary>Letters and digits, and an apostrophe between two letters (Lily's, don't).</summary>
    private static bool IsWordCharacter(string text, int index)
    {
        char c = text[index];
        if (char.IsLetterOrDigit(c))
        {
            return true;
        }

        return c is '\'' or '\u2019' && index > 0 && index + 1 < text.Length && char.IsLetter(text[index - 1]) && char.IsLetter(text[index + 1]);
    }
}
