using System.Globalization;

namespace LlmKit.Generation.Constraints;

/// <summary>
/// Parses the regular-expression subset constrained decoding supports and builds it into a rule. The whole output must
/// match (anchors are implied; a leading <c>^</c> and trailing <c>$</c> are accepted and ignored).
/// Supported: literal characters, escapes (<c>\d \w \s \D \W \S \. \\ \n \r \t \f \v \uXXXX \xXX</c> and escaped
/// punctuation), classes <c>[a-z_]</c> and <c>[^...]</c>, <c>.</c> (any character but a newline), groups <c>( )</c> and
/// <c>(?: )</c>, alternation <c>|</c>, quantifiers <c>? * + {m} {m,} {m,n}</c> (a lazy <c>?</c> suffix is accepted:
/// it matches the same strings). Anything else (backreferences, lookaround, <c>\b</c>, inline options) throws
/// <see cref="NotSupportedException"/> naming it. <c>\d</c> and <c>\w</c> are ASCII, as in ECMAScript.
/// </summary>
internal static class RegexSubset
{
    public static RegexNode Parse(string pattern)
    {
        var parser = new Parser(pattern);
        return parser.ParseAll();
    }

    /// <summary>Builds the regex into <paramref name="builder"/>; <paramref name="characters"/> turns a character set into a fragment.</summary>
    public static Fragment Build(RegexNode node, RuleBuilder builder, Func<CodePointSet, Fragment> characters) => node switch
    {
        RegexNode.Chars c => characters(c.Set),
        RegexNode.Concat s => builder.Sequence([.. s.Parts.Select(p => Build(p, builder, characters))]),
        RegexNode.Alternation a => builder.Alternatives([.. a.Options.Select(p => Build(p, builder, characters))]),
        RegexNode.Repeat r => builder.Repeat(() => Build(r.Body, builder, characters), r.Min, r.Max, "regex quantifier"),
        _ => builder.Empty(),
    };

    private sealed class Parser(string pattern)
    {
        private int _at;

        public RegexNode ParseAll()
        {
            if (pattern.StartsWith('^'))
            {
                _at = 1;
            }

            var node = ParseAlternation(topLevel: true);
            if (_at < pattern.Length)
            {
                throw Unsupported($"unbalanced ')' at {_at}");
            }

            return node;
        }

        /// <param name="topLevel">Outside any group, where a final '$' is an implied anchor.</param>
        private RegexNode ParseAlternation(bool topLevel)
        {
            var options = new List<RegexNode> { ParseConcat(topLevel) };
            while (_at < pattern.Length && pattern[_at] == '|')
            {
                _at++;
                options.Add(ParseConcat(topLevel));
            }

            return options.Count == 1 ? options[0] : new RegexNode.Alternation(options);
        }

        private RegexNode ParseConcat(bool topLevel)
        {
            var parts = new List<RegexNode>();
            while (_at < pattern.Length && pattern[_at] is not '|' and not ')')
            {
                if (pattern[_at] == '$' && topLevel && (_at == pattern.Length - 1 || pattern[_at + 1] is '|' or ')'))
                {
                    _at++;
                    continue;
                }

                if (pattern[_at] == '^' && _at > 0 && pattern[_at - 1] is '|' or '(')
                {
                    _at++;
                    continue;
                }

                var atom = ParseAtom();
                parts.Add(ParseQuantifier(atom));
            }

            return parts.Count == 1 ? parts[0] : new RegexNode.Concat(parts);
        }

        private RegexNode ParseQuantifier(RegexNode atom)
        {
            while (_at < pattern.Length)
            {
                char c = pattern[_at];
                int min;
                int? max;
                if (c == '?')
                {
                    (min, max) = (0, 1);
                    _at++;
                }
                else if (c == '*')
                {
                    (min, max) = (0, null);
                    _at++;
                }
                else if (c == '+')
                {
                    (min, max) = (1, null);
                    _at++;
                }
                else if (c == '{' && TryParseBraces(out min, out max))
                {
                }
                else
                {
                    return atom;
                }

                if (_at < pattern.Length && pattern[_at] == '?')
                {
                    _at++; // lazy: same language
                }
                else if (_at < pattern.Length && pattern[_at] == '+')
                {
                    throw Unsupported("possessive quantifiers");
                }

                atom = new RegexNode.Repeat(atom, min, max);
            }

            return atom;
        }

        private bool TryParseBraces(out int min, out int? max)
        {
            min = 0;
            max = null;
            int close = pattern.IndexOf('}', _at);
            if (close < 0)
            {
                return false;
            }

            string inside = pattern[(_at + 1)..close];
            int comma = inside.IndexOf(',');
            var invariant = CultureInfo.InvariantCulture;
            if (comma < 0)
            {
                if (!int.TryParse(inside, NumberStyles.None, invariant, out min))
                {
                    return false;
                }

                max = min;
            }
            else
            {
                if (!int.TryParse(inside[..comma], NumberStyles.None, invariant, out min))
                {
                    return false;
                }

                string upper = inside[(comma + 1)..];
                if (upper.Length > 0)
                {
                    if (!int.TryParse(upper, NumberStyles.None, invariant, out int m) || m < min)
                    {
                        throw Unsupported($"quantifier {{{inside}}}");
                    }

                    max = m;
                }
            }

            _at = close + 1;
            return true;
        }

        private RegexNode ParseAtom()
        {
            char c = pattern[_at++];
            switch (c)
            {
                case '(':
                    if (_at < pattern.Length && pattern[_at] == '?')
                    {
                        if (_at + 1 < pattern.Length && pattern[_at + 1] == ':')
                        {
                            _at += 2;
                        }
                        else
                        {
                            throw Unsupported("group construct '(?' other than '(?:'");
                        }
                    }

                    var inner = ParseAlternation(topLevel: false);
                    if (_at >= pattern.Length || pattern[_at] != ')')
                    {
                        throw Unsupported("missing ')'");
                    }

                    _at++;
                    return inner;
                case '[':
                    return new RegexNode.Chars(ParseClass());
                case '.':
                    return new RegexNode.Chars(CodePointSet.All().Except('\n', '\n'));
                case '\\':
                    return new RegexNode.Chars(ParseEscape(inClass: false));
                case '*' or '+' or '?' or '{':
                    throw Unsupported($"quantifier '{c}' with nothing to repeat at {_at - 1}");
                case '^' or '$':
                    throw Unsupported($"anchor '{c}' inside the pattern (anchors are implied at both ends)");
                default:
                    return new RegexNode.Chars(Single(ReadScalar(c)));
            }
        }

        private int ReadScalar(char first)
        {
            if (char.IsHighSurrogate(first) && _at < pattern.Length && char.IsLowSurrogate(pattern[_at]))
            {
                return char.ConvertToUtf32(first, pattern[_at++]);
            }

            return first;
        }

        private CodePointSet ParseClass()
        {
            bool negate = _at < pattern.Length && pattern[_at] == '^';
            if (negate)
            {
                _at++;
            }

            var set = new CodePointSet();
            bool first = true;
            while (true)
            {
                if (_at >= pattern.Length)
                {
                    throw Unsupported("missing ']'");
                }

                char c = pattern[_at++];
                if (c == ']' && !first)
                {
                    break;
                }

                first = false;
                CodePointSet item;
                int? single = null;
                if (c == '\\')
                {
                    item = ParseEscape(inClass: true);
                    if (item.Ranges.Count == 1 && item.Ranges[0].Lo == item.Ranges[0].Hi)
                    {
                        single = item.Ranges[0].Lo;
                    }
                }
                else
                {
                    single = ReadScalar(c);
                    item = Single(single.Value);
                }

                if (single is { } lo && _at + 1 < pattern.Length && pattern[_at] == '-' && pattern[_at + 1] != ']')
                {
                    _at++;
                    char d = pattern[_at++];
                    int hi = d == '\\' ? SingleOf(ParseEscape(inClass: true)) : ReadScalar(d);
                    if (hi < lo)
                    {
                        throw Unsupported($"class range out of order at {_at}");
                    }

                    item = CodePointSet.Of((lo, hi));
                }

                set.AddSet(item);
            }

            return negate ? set.Complement() : set;
        }

        private int SingleOf(CodePointSet set) =>
            set.Ranges.Count == 1 && set.Ranges[0].Lo == set.Ranges[0].Hi ? set.Ranges[0].Lo : throw Unsupported("class shorthand as a range bound");

        private CodePointSet ParseEscape(bool inClass)
        {
            if (_at >= pattern.Length)
            {
                throw Unsupported("trailing '\\'");
            }

            char c = pattern[_at++];
            CodePointSet digits = CodePointSet.Of(('0', '9'));
            CodePointSet word = CodePointSet.Of(('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z'));
            CodePointSet space = CodePointSet.Of(('\t', '\r'), (' ', ' '));
            switch (c)
            {
                case 'd': return digits;
                case 'D': return digits.Complement();
                case 'w': return word;
                case 'W': return word.Complement();
                case 's': return space;
                case 'S': return space.Complement();
                case 'n': return Single('\n');
                case 'r': return Single('\r');
                case 't': return Single('\t');
                case 'f': return Single('\f');
                case 'v': return Single('\v');
                case '0': return Single(0);
                case 'u': return Single(ReadHex(4));
                case 'x': return Single(ReadHex(2));
                case 'b' when inClass: return Single('\b');
                default:
                    if (char.IsAsciiLetterOrDigit(c))
                    {
                        throw Unsupported($"escape '\\{c}'");
                    }

                    return Single(c);
            }
        }

        private int ReadHex(int digits)
        {
            if (_at + digits > pattern.Length
                || !int.TryParse(pattern.AsSpan(_at, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int value))
            {
                throw Unsupported($"hex escape at {_at}");
            }

            _at += digits;
            return value;
        }

        private static CodePointSet Single(int cp) => CodePointSet.Of((cp, cp));

        private NotSupportedException Unsupported(string what) =>
            new($"Regex constraint '{pattern}': {what} is not supported (see OutputConstraint.Regex for the subset).");
    }
}

/// <summary>A parsed regular expression.</summary>
internal abstract record RegexNode
{
    public sealed record Chars(CodePointSet Set) : RegexNode;

    public sealed record Concat(IReadOnlyList<RegexNode> Parts) : RegexNode;

    public sealed record Alternation(IReadOnlyList<RegexNode> Options) : RegexNode;

    public sealed record Repeat(RegexNode Body, int Min, int? Max) : RegexNode;

    public sealed record Nothing : RegexNode;
}
