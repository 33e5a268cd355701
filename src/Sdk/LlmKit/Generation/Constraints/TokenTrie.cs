using LlmKit.Tokenization;

namespace LlmKit.Generation.Constraints;

/// <summary>
/// The model's tokens as a byte trie in preorder arrays: node i reads <see cref="NodeByte"/>[i] at depth
/// <see cref="NodeDepth"/>[i], its subtree ends before <see cref="SubtreeEnd"/>[i], and the tokens whose bytes end
/// there are <see cref="TokenIds"/>[<see cref="TokenStart"/>[i] .. <see cref="TokenStart"/>[i + 1]). A mask walk
/// skips a whole subtree as soon as its prefix is rejected. Tokens without bytes (special tokens) are left out.
/// Built once per tokenizer and cached on it; immutable and thread-safe.
/// </summary>
internal sealed class TokenTrie
{
    private TokenTrie(byte[] nodeByte, byte[] nodeDepth, int[] subtreeEnd, int[] tokenStart, int[] tokenIds, int vocabularySize, int[][] singleByteTokens, int maxDepth)
    {
        RootChild = new int[256];
        for (int i = 1; i < nodeByte.Length; i = subtreeEnd[i])
        {
            RootChild[nodeByte[i]] = i;
        }

        NodeByte = nodeByte;
        NodeDepth = nodeDepth;
        SubtreeEnd = subtreeEnd;
        TokenStart = tokenStart;
        TokenIds = tokenIds;
        VocabularySize = vocabularySize;
        SingleByteTokens = singleByteTokens;
        MaxDepth = maxDepth;
    }

    public byte[] NodeByte { get; }

    /// <summary>
    /// The node of each first byte (0 when no token starts with it), so a walk visits only the subtrees of the bytes a
    /// state allows instead of scanning the root's children, which lie far apart in the arrays.
    /// </summary>
    public int[] RootChild { get; }

    public byte[] NodeDepth { get; }

    public int[] SubtreeEnd { get; }

    public int[] TokenStart { get; }

    public int[] TokenIds { get; }

    public int NodeCount => NodeByte.Length;

    public int VocabularySize { get; }

    /// <summary>Longest token in bytes (the depth of the trie).</summary>
    public int MaxDepth { get; }

    /// <summary>For each byte value, the tokens that are exactly that byte (byte fallback and byte-level BPE have one for every byte).</summary>
    public int[][] SingleByteTokens { get; }

    /// <summary>Longest token the trie keeps; longer ones (none in real vocabularies) are left out of constrained decoding.</summary>
    public const int MaxTokenBytes = 255;

    /// <summary>A trie without tokens (byte-level use of an automaton, no masks).</summary>
    internal static TokenTrie Empty { get; } = Build(TokenByteTable.Empty);

    internal static TokenTrie Build(TokenByteTable table)
    {
        int size = table.Count;
        var order = new List<int>(size);
        for (int id = 0; id < size; id++)
        {
            int length = table[id].Length;
            if (length > 0 && length <= MaxTokenBytes)
            {
                order.Add(id);
            }
        }

        order.Sort((a, b) =>
        {
            int c = table[a].SequenceCompareTo(table[b]);
            return c != 0 ? c : a.CompareTo(b);
        });

        // Sorted token byte strings give the preorder directly: a node per new byte after the common prefix with the previous token.
        var nodeByte = new List<byte> { 0 };
        var nodeDepth = new List<byte> { 0 };
        var tokenStart = new List<int> { 0 };
        var tokenIds = new List<int>(order.Count);
        var path = new List<int> { 0 }; // node index at each depth of the current token
        ReadOnlySpan<byte> previous = [];
        var singles = new List<int>[256];
        int maxDepth = 0;
        foreach (int id in order)
        {
            var bytes = table[id];
            int common = previous.CommonPrefixLength(bytes);
            if (common == bytes.Length && common == previous.Length)
            {
                tokenIds.Add(id); // same bytes as the previous token: same node
                if (bytes.Length == 1)
                {
                    singles[bytes[0]]!.Add(id);
                }

                continue;
            }

            path.RemoveRange(common + 1, path.Count - common - 1);
            for (int d = common; d < bytes.Length; d++)
            {
                // Tokens of the previous node are closed; the new node's tokens start here.
                tokenStart.Add(tokenIds.Count);
                nodeByte.Add(bytes[d]);
                nodeDepth.Add((byte)(d + 1));
                path.Add(nodeByte.Count - 1);
            }

            tokenIds.Add(id);
            if (bytes.Length == 1)
            {
                (singles[bytes[0]] ??= []).Add(id);
            }

            maxDepth = Math.Max(maxDepth, bytes.Length);
            previous = bytes;
        }

        tokenStart.Add(tokenIds.Count);
        int n = nodeByte.Count;
        var subtreeEnd = new int[n];
        var open = new Stack<int>();
        for (int i = 0; i < n; i++)
        {
            while (open.Count > 0 && nodeDepth[open.Peek()] >= nodeDepth[i])
            {
                subtreeEnd[open.Pop()] = i;
            }

            open.Push(i);
        }

        while (open.Count > 0)
        {
            subtreeEnd[open.Pop()] = n;
        }

        return new TokenTrie([.. nodeByte], [.. nodeDepth], subtreeEnd, [.. tokenStart], [.. tokenIds], size, [.. singles.Select(s => s?.ToArray() ?? [])], maxDepth);
    }
}
