using System.Text;

namespace LlmKit.Generation.Constraints;

/// <summary>Thompson-style construction of one <see cref="GrammarRule"/> from fragments.</summary>
internal sealed class RuleBuilder
{
    /// <summary>Largest unrolled repetition bound ({m,n}, minLength/maxLength, minItems/maxItems): keeps the automaton small.</summary>
    public const int MaxRepetition = 1000;

    public RuleBuilder(GrammarRule rule) => Rule = rule;

    public GrammarRule Rule { get; }

    /// <summary>Makes <paramref name="body"/> the rule's whole language.</summary>
    public void Complete(Fragment body)
    {
        Rule.Start = body.Start;
        Rule.Final = body.End;
    }

    public Fragment Empty()
    {
        int s = Rule.NewState();
        return new Fragment(s, s);
    }

    public Fragment Range(byte lo, byte hi)
    {
        int a = Rule.NewState();
        int b = Rule.NewState();
        Rule.Bytes(a, lo, hi, b);
        return new Fragment(a, b);
    }

    public Fragment Literal(string text) => Literal(Encoding.UTF8.GetBytes(text));

    public Fragment Literal(ReadOnlySpan<byte> bytes)
    {
        int start = Rule.NewState();
        int at = start;
        foreach (byte b in bytes)
        {
            int next = Rule.NewState();
            Rule.Bytes(at, b, b, next);
            at = next;
        }

        return new Fragment(start, at);
    }

    public Fragment Call(GrammarRule callee)
    {
        int a = Rule.NewState();
        int b = Rule.NewState();
        Rule.Call(a, callee, b);
        return new Fragment(a, b);
    }

    public Fragment Sequence(params Fragment[] parts)
    {
        if (parts.Length == 0)
        {
            return Empty();
        }

        for (int i = 1; i < parts.Length; i++)
        {
            Rule.Epsilon(parts[i - 1].End, parts[i].Start);
        }

        return new Fragment(parts[0].Start, parts[^1].End);
    }

    public Fragment Alternatives(IReadOnlyList<Fragment> parts)
    {
        int a = Rule.NewState();
        int b = Rule.NewState();
        foreach (var part in parts)
        {
            Rule.Epsilon(a, part.Start);
            Rule.Epsilon(part.End, b);
        }

        return new Fragment(a, b);
    }

    public Fragment Optional(Fragment part)
    {
        Rule.Epsilon(part.Start, part.End);
        return part;
    }

    /// <summary>Zero or more (the fragment loops back on itself).</summary>
    public Fragment Star(Fragment part)
    {
        int a = Rule.NewState();
        int b = Rule.NewState();
        Rule.Epsilon(a, part.Start);
        Rule.Epsilon(part.End, a);
        Rule.Epsilon(a, b);
        return new Fragment(a, b);
    }

    /// <summary>Between <paramref name="min"/> and <paramref name="max"/> copies (null = unbounded) of what <paramref name="make"/> builds.</summary>
    public Fragment Repeat(Func<Fragment> make, int min, int? max, string setting)
    {
        if (min > MaxRepetition || max > MaxRepetition)
        {
            throw new NotSupportedException($"{setting}: repetition bounds above {MaxRepetition} are not supported by constrained decoding.");
        }

        var parts = new List<Fragment>();
        for (int i = 0; i < min; i++)
        {
            parts.Add(make());
        }

        if (max is null)
        {
            parts.Add(Star(make()));
        }
        else
        {
            // Nested optionals (a(b(c)?)?)? keep the NFA linear in max - min.
            var tail = new List<Fragment>();
            for (int i = min; i < max; i++)
            {
                tail.Add(make());
            }

            if (tail.Count > 0)
            {
                int end = Rule.NewState();
                for (int i = 0; i < tail.Count; i++)
                {
                    Rule.Epsilon(tail[i].Start, end);
                    Rule.Epsilon(tail[i].End, i + 1 < tail.Count ? tail[i + 1].Start : end);
                }

                parts.Add(new Fragment(tail[0].Start, end));
            }
        }

        return Sequence([.. parts]);
    }

    /// <summary>Any one character whose code point lies in <paramref name="set"/>, as its UTF-8 bytes.</summary>
    public Fragment Characters(CodePointSet set)
    {
        var alternatives = new List<Fragment>();
        foreach (var (lo, hi) in set.Ranges)
        {
            foreach (var sequence in Utf8Ranges.Split(lo, hi))
            {
                var parts = new Fragment[sequence.Length];
                for (int i = 0; i < sequence.Length; i++)
                {
                    parts[i] = Range(sequence[i].Lo, sequence[i].Hi);
                }

                alternatives.Add(Sequence(parts));
            }
        }

        return alternatives.Count == 1 ? alternatives[0] : Alternatives(alternatives);
    }
}

/// <summary>A set of Unicode scalar values as sorted, disjoint, inclusive ranges.</summary>
internal sealed class CodePointSet
{
    public const int MaxCodePoint = 0x10FFFF;

    private readonly List<(int Lo, int Hi)> _ranges = [];

    public IReadOnlyList<(int Lo, int Hi)> Ranges => _ranges;

    public static CodePointSet Of(params (int Lo, int Hi)[] ranges)
    {
        var set = new CodePointSet();
        foreach (var (lo, hi) in ranges)
        {
            set.Add(lo, hi);
        }

        return set;
    }

    /// <summary>Every scalar value (surrogates excluded).</summary>
    public static CodePointSet All() => Of((0, 0xD7FF), (0xE000, MaxCodePoint));

    public void Add(int lo, int hi)
    {
        var all = new List<(int Lo, int Hi)>(_ranges) { (lo, hi) };
        all.Sort();
        _ranges.Clear();
        foreach (var range in all)
        {
            if (_ranges.Count > 0 && range.Lo <= _ranges[^1].Hi + 1)
            {
                _ranges[^1] = (_ranges[^1].Lo, Math.Max(_ranges[^1].Hi, range.Hi));
            }
            else
            {
                _ranges.Add(range);
            }
        }
    }

    public void AddSet(CodePointSet other)
    {
        foreach (var (lo, hi) in other.Ranges)
        {
            Add(lo, hi);
        }
    }

    /// <summary>Scalar values not in this set (surrogates excluded).</summary>
    public CodePointSet Complement()
    {
        var result = new CodePointSet();
        int next = 0;
        foreach (var (lo, hi) in _ranges)
        {
            if (lo > next)
            {
                result.Add(next, lo - 1);
            }

            next = hi + 1;
        }

        if (next <= MaxCodePoint)
        {
            result.Add(next, MaxCodePoint);
        }

        return result.Except(0xD800, 0xDFFF);
    }

    /// <summary>This set without [lo, hi].</summary>
    public CodePointSet Except(int lo, int hi)
    {
        var result = new CodePointSet();
        foreach (var (a, b) in _ranges)
        {
            if (b < lo || a > hi)
            {
                result.Add(a, b);
                continue;
            }

            if (a < lo)
            {
                result.Add(a, lo - 1);
            }

            if (b > hi)
            {
                result.Add(hi + 1, b);
            }
        }

        return result;
    }
}

/// <summary>Splits a code point range into sequences of UTF-8 byte ranges (each sequence one encoding length and lead range).</summary>
internal static class Utf8Ranges
{
    private static readonly int[] LengthLimits = [0x7F, 0x7FF, 0xFFFF, 0x10FFFF];

    public static IEnumerable<(byte Lo, byte Hi)[]> Split(int lo, int hi)
    {
        // Surrogates have no UTF-8 form.
        if (lo <= 0xDFFF && hi >= 0xD800)
        {
            var parts = new List<(byte, byte)[]>();
            if (lo < 0xD800)
            {
                parts.AddRange(Split(lo, 0xD7FF));
            }

            if (hi > 0xDFFF)
            {
                parts.AddRange(Split(0xE000, hi));
            }

            return parts;
        }

        // One encoding length at a time.
        int previousLimit = -1;
        foreach (int limit in LengthLimits)
        {
            if (lo > previousLimit && lo <= limit && hi > limit)
            {
                return Split(lo, limit).Concat(Split(limit + 1, hi)).ToList();
            }

            previousLimit = limit;
        }

        return SplitSameLength(lo, hi);
    }

    private static List<(byte Lo, byte Hi)[]> SplitSameLength(int lo, int hi)
    {
        int length = lo <= 0x7F ? 1 : lo <= 0x7FF ? 2 : lo <= 0xFFFF ? 3 : 4;
        if (length == 1)
        {
            return [[((byte)lo, (byte)hi)]];
        }

        // Split until every continuation byte range is full (0x80-0xBF) below the first differing byte.
        for (int i = 1; i < length; i++)
        {
            int mask = (1 << (6 * i)) - 1;
            if ((lo & ~mask) != (hi & ~mask))
            {
                if ((lo & mask) != 0)
                {
                    return [.. SplitSameLength(lo, lo | mask), .. SplitSameLength((lo | mask) + 1, hi)];
                }

                if ((hi & mask) != mask)
                {
                    return [.. SplitSameLength(lo, (hi & ~mask) - 1), .. SplitSameLength(hi & ~mask, hi)];
                }
            }
        }

        Span<byte> a = stackalloc byte[4];
        Span<byte> b = stackalloc byte[4];
        Encode(lo, a);
        Encode(hi, b);
        var ranges = new (byte, byte)[length];
        for (int i = 0; i < length; i++)
        {
            ranges[i] = (a[i], b[i]);
        }

        return [ranges];
    }

    private static void Encode(int cp, Span<byte> bytes) => new Rune(cp).EncodeToUtf8(bytes);
}
