using System.Buffers.Binary;
using System.Text;

namespace LlmKit.ModelBuilder;

/// <summary>
/// A llama2.c tokenizer file (<c>tok512.bin</c>, <c>tokenizer.bin</c>): int32 max_token_length, then for every
/// id a float32 score, an int32 byte length and the piece's UTF-8 bytes. Spaces are written as ' '.
/// Ids 0, 1, 2 are &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;; ids 3..258 are the byte pieces &lt;0x00&gt;..&lt;0xFF&gt;.
/// Immutable and thread-safe.
/// </summary>
public sealed class Llama2cTokenizerFile
{
    /// <summary>Id of the unknown token.</summary>
    public const int UnknownId = 0;

    /// <summary>Id of the beginning-of-sequence token.</summary>
    public const int BosId = 1;

    /// <summary>Id of the end-of-sequence token.</summary>
    public const int EosId = 2;

    /// <summary>Id of the byte piece &lt;0x00&gt;; byte b has id <c>FirstByteId + b</c>.</summary>
    public const int FirstByteId = 3;

    /// <summary>Create a tokenizer from pieces and scores (used by the synthesiser and tests).</summary>
    /// <param name="pieces">The pieces, by id, spaces as ' '.</param>
    /// <param name="scores">One score per piece.</param>
    public Llama2cTokenizerFile(IReadOnlyList<string> pieces, IReadOnlyList<float> scores)
        : this(pieces, scores, maxTokenLength: null)
    {
    }

    private Llama2cTokenizerFile(IReadOnlyList<string> pieces, IReadOnlyList<float> scores, int? maxTokenLength)
    {
        ArgumentNullException.ThrowIfNull(pieces);
        ArgumentNullException.ThrowIfNull(scores);
        if (pieces.Count != scores.Count)
        {
            throw new ArgumentException($"pieces ({pieces.Count}) and scores ({scores.Count}) must have the same length.", nameof(scores));
        }

        Pieces = pieces.ToArray();
        Scores = scores.ToArray();
        MaxTokenLength = maxTokenLength ?? (Pieces.Count == 0 ? 0 : Pieces.Max(p => Encoding.UTF8.GetByteCount(p)));
    }

    /// <summary>The pieces by id (UTF-8 decoded; a space is ' ').</summary>
    public IReadOnlyList<string> Pieces { get; }

    /// <summary>The BPE merge scores by id (higher merges first).</summary>
    public IReadOnlyList<float> Scores { get; }

    /// <summary>max_token_length as stored in the file's header (for a tokenizer built in memory: the longest piece in bytes).</summary>
    public int MaxTokenLength { get; }

    /// <summary>Number of pieces.</summary>
    public int VocabSize => Pieces.Count;

    /// <summary>True when <paramref name="id"/> is one of the byte-fallback pieces &lt;0x00&gt;..&lt;0xFF&gt;.</summary>
    /// <param name="id">A token id.</param>
    public static bool IsByteId(int id) => id >= FirstByteId && id < FirstByteId + 256;

    /// <summary>Reads a tokenizer file.</summary>
    /// <param name="path">The file.</param>
    /// <param name="vocabSize">Number of pieces to read (the checkpoint's vocab_size; the file does not store it).</param>
    /// <exception cref="FileNotFoundException">The file does not exist (the message names it).</exception>
    /// <exception cref="InvalidDataException">The file is shorter or longer than <paramref name="vocabSize"/> pieces, or a piece is malformed.</exception>
    public static Llama2cTokenizerFile Load(string path, int vocabSize)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabSize);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Tokenizer file not found: '{Path.GetFullPath(path)}'.", path);
        }

        byte[] bytes = File.ReadAllBytes(path);
        var pieces = new string[vocabSize];
        var scores = new float[vocabSize];
        int offset = 4;
        if (bytes.Length < 4)
        {
            throw new InvalidDataException($"Tokenizer '{path}' is truncated: {bytes.Length} bytes, expected at least a 4-byte header.");
        }

        int maxLength = BinaryPrimitives.ReadInt32LittleEndian(bytes);
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        for (int id = 0; id < vocabSize; id++)
        {
            if (offset + 8 > bytes.Length)
            {
                throw new InvalidDataException(
                    $"Tokenizer '{path}' holds only {id} pieces, fewer than the checkpoint's vocab_size {vocabSize}.");
            }

            scores[id] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(offset));
            int length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset + 4));
            offset += 8;
            if (length < 0 || length > maxLength || offset + length > bytes.Length)
            {
                throw new InvalidDataException(
                    $"Tokenizer '{path}': piece {id} has byte length {length} (max_token_length {maxLength}, {bytes.Length - offset} bytes left).");
            }

            try
            {
                pieces[id] = utf8.GetString(bytes, offset, length);
            }
            catch (DecoderFallbackException e)
            {
                throw new InvalidDataException($"Tokenizer '{path}': piece {id} is not valid UTF-8.", e);
            }

            offset += length;
        }

        if (offset != bytes.Length)
        {
            throw new InvalidDataException(
                $"Tokenizer '{path}' has {bytes.Length - offset} bytes after piece {vocabSize - 1}: it holds more pieces than the checkpoint's vocab_size {vocabSize}.");
        }

        return new Llama2cTokenizerFile(pieces, scores, maxLength);
    }

    /// <summary>Writes this tokenizer in the llama2.c format.</summary>
    /// <param name="path">Destination file (overwritten).</param>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        using var writer = new BinaryWriter(stream, Encoding.UTF8);
        writer.Write(MaxTokenLength);
        for (int i = 0; i < Pieces.Count; i++)
        {
            byte[] piece = Encoding.UTF8.GetBytes(Pieces[i]);
            writer.Write(Scores[i]);
            writer.Write(piece.Length);
            writer.Write(piece);
        }
    }
}
