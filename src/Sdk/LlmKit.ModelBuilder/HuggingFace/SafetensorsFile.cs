using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace LlmKit.ModelBuilder.HuggingFace;

/// <summary>The element types a safetensors tensor may have here (every floating type Hugging Face checkpoints ship).</summary>
internal enum SafetensorsDType
{
    F32,
    F16,
    BF16,
}

/// <summary>One tensor's entry in a safetensors header: where its bytes are and how to read them.</summary>
/// <param name="Name">Tensor name as in the header (e.g. <c>model.layers.0.self_attn.q_proj.weight</c>).</param>
/// <param name="DType">Element type.</param>
/// <param name="Shape">Dimensions, outermost first.</param>
/// <param name="Begin">Absolute byte offset of the first element in the file.</param>
/// <param name="ByteLength">Bytes of data.</param>
/// <param name="FilePath">The file that holds the tensor.</param>
internal sealed record SafetensorsTensor(string Name, SafetensorsDType DType, long[] Shape, long Begin, long ByteLength, string FilePath)
{
    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>Shape as text, e.g. <c>[64, 32]</c>.</summary>
    public string ShapeText => $"[{string.Join(", ", Shape)}]";
}

/// <summary>
/// Reads the header of one <c>.safetensors</c> file (8-byte little-endian header length, a JSON header, then the
/// data) and streams single tensors as float32. Every size and offset from the file is checked against the file's
/// length before anything is allocated, so a truncated or hostile file fails with <see cref="InvalidDataException"/>
/// naming the file and the tensor. Immutable after <see cref="Open"/>; reads open their own stream, so concurrent
/// readers are safe.
/// </summary>
internal sealed class SafetensorsFile
{
    /// <summary>Largest JSON header accepted (the format's own reference implementation caps it at 100 MB).</summary>
    public const long MaxHeaderBytes = 100L << 20;

    private const int ChunkBytes = 1 << 20;

    private SafetensorsFile(string path, long length, Dictionary<string, SafetensorsTensor> tensors)
    {
        Path = path;
        Length = length;
        Tensors = tensors;
    }

    /// <summary>Full path of the file.</summary>
    public string Path { get; }

    /// <summary>File length in bytes.</summary>
    public long Length { get; }

    /// <summary>The tensors by name.</summary>
    public IReadOnlyDictionary<string, SafetensorsTensor> Tensors { get; }

    /// <summary>Reads and validates the header of <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The header is malformed, too large, or describes data outside the file.</exception>
    /// <exception cref="NotSupportedException">A tensor has a dtype other than F32, F16 or BF16.</exception>
    public static SafetensorsFile Open(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"Safetensors file '{full}' does not exist.", full);
        }

        using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
        long length = stream.Length;
        Span<byte> prefix = stackalloc byte[8];
        if (length < 8 || stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) < 8)
        {
            throw new InvalidDataException($"'{full}' is not a safetensors file: it is {length} bytes, shorter than the 8-byte header length.");
        }

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes)
        {
            throw new InvalidDataException($"'{full}': the safetensors header claims {headerLength:N0} bytes, more than the {MaxHeaderBytes:N0}-byte limit.");
        }

        if ((long)headerLength > length - 8)
        {
            throw new InvalidDataException($"'{full}' is truncated: the safetensors header claims {headerLength:N0} bytes but only {length - 8:N0} follow the length prefix.");
        }

        var header = new byte[(int)headerLength];
        stream.ReadExactly(header);
        long dataStart = 8 + (long)headerLength;
        var tensors = ParseHeader(full, header, dataStart, length - dataStart);
        return new SafetensorsFile(full, length, tensors);
    }

    /// <summary>
    /// Reads <paramref name="tensor"/> (one of this file's) into <paramref name="destination"/> as float32, in chunks,
    /// widening F16 and BF16.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> does not have the tensor's element count.</exception>
    /// <exception cref="InvalidDataException">The file became shorter than its header says.</exception>
    public static void ReadFloat32(SafetensorsTensor tensor, Span<float> destination)
    {
        if (destination.Length != tensor.ElementCount)
        {
            throw new ArgumentException($"Tensor '{tensor.Name}' has {tensor.ElementCount} elements; the destination holds {destination.Length}.", nameof(destination));
        }

        using var stream = new FileStream(tensor.FilePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        if (stream.Length < tensor.Begin + tensor.ByteLength)
        {
            throw new InvalidDataException($"'{tensor.FilePath}' is truncated: tensor '{tensor.Name}' ends at byte {tensor.Begin + tensor.ByteLength:N0}, the file has {stream.Length:N0}.");
        }

        stream.Position = tensor.Begin;
        if (tensor.DType == SafetensorsDType.F32)
        {
            stream.ReadExactly(MemoryMarshal.AsBytes(destination));
            return;
        }

        byte[] chunk = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            int done = 0;
            while (done < destination.Length)
            {
                int count = Math.Min(ChunkBytes / 2, destination.Length - done);
                Span<byte> bytes = chunk.AsSpan(0, count * 2);
                stream.ReadExactly(bytes);
                ReadOnlySpan<ushort> halves = MemoryMarshal.Cast<byte, ushort>(bytes);
                Span<float> target = destination.Slice(done, count);
                if (tensor.DType == SafetensorsDType.F16)
                {
                    for (int i = 0; i < count; i++)
                    {
                        target[i] = (float)BitConverter.UInt16BitsToHalf(halves[i]);
                    }
                }
                else
                {
                    // bfloat16 is the upper half of a float32.
                    for (int i = 0; i < count; i++)
                    {
                        target[i] = BitConverter.Int32BitsToSingle(halves[i] << 16);
                    }
                }

                done += count;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    private static Dictionary<string, SafetensorsTensor> ParseHeader(string path, byte[] header, long dataStart, long dataLength)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}': the safetensors header is not valid JSON ({e.Message}).", e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"'{path}': the safetensors header must be a JSON object.");
            }

            var tensors = new Dictionary<string, SafetensorsTensor>(StringComparer.Ordinal);
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    continue;
                }

                tensors.Add(entry.Name, ParseTensor(path, entry, dataStart, dataLength));
            }

            CheckNoOverlap(path, tensors.Values);
            return tensors;
        }
    }

    private static SafetensorsTensor ParseTensor(string path, JsonProperty entry, long dataStart, long dataLength)
    {
        string where = $"'{path}', tensor '{entry.Name}'";
        var e = entry.Value;
        if (e.ValueKind != JsonValueKind.Object
            || !e.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String
            || !e.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || !e.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array || offsetsElement.GetArrayLength() != 2)
        {
            throw new InvalidDataException($"{where}: expected an object with dtype, shape and data_offsets [begin, end].");
        }

        string dtypeName = dtypeElement.GetString()!;
        var (dtype, elementBytes) = dtypeName switch
        {
            "F32" => (SafetensorsDType.F32, 4),
            "F16" => (SafetensorsDType.F16, 2),
            "BF16" => (SafetensorsDType.BF16, 2),
            _ => throw new NotSupportedException($"{where} has dtype {dtypeName}; supported dtypes are F32, F16 and BF16."),
        };

        var shape = new long[shapeElement.GetArrayLength()];
        long count = 1;
        int at = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long d) || d < 0 || d > int.MaxValue)
            {
                throw new InvalidDataException($"{where}: shape entries must be integers in [0, {int.MaxValue}].");
            }

            shape[at++] = d;
            count = count > 0 && d > long.MaxValue / 4 / count ? throw new InvalidDataException($"{where}: the shape is too large.") : count * d;
        }

        long[] offsets = new long[2];
        at = 0;
        foreach (var o in offsetsElement.EnumerateArray())
        {
            if (o.ValueKind != JsonValueKind.Number || !o.TryGetInt64(out offsets[at]) || offsets[at] < 0)
            {
                throw new InvalidDataException($"{where}: data_offsets must be non-negative integers.");
            }

            at++;
        }

        long begin = offsets[0], end = offsets[1];
        if (end < begin || end > dataLength)
        {
            throw new InvalidDataException($"{where}: data_offsets [{begin}, {end}] fall outside the {dataLength:N0} data bytes of the file.");
        }

        if (end - begin != count * elementBytes)
        {
            throw new InvalidDataException($"{where}: data_offsets span {end - begin:N0} bytes but shape [{string.Join(", ", shape)}] of {dtypeName} needs {count * elementBytes:N0}.");
        }

        if (count > Array.MaxLength)
        {
            throw new InvalidDataException($"{where} has {count:N0} elements, more than one array can hold ({Array.MaxLength:N0}).");
        }

        return new SafetensorsTensor(entry.Name, dtype, shape, dataStart + begin, end - begin, path);
    }

    private static void CheckNoOverlap(string path, IEnumerable<SafetensorsTensor> tensors)
    {
        SafetensorsTensor? previous = null;
        foreach (var t in tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.Begin))
        {
            if (previous is not null && t.Begin < previous.Begin + previous.ByteLength)
            {
                throw new InvalidDataException($"'{path}': tensors '{previous.Name}' and '{t.Name}' overlap.");
            }

            previous = t;
        }
    }
}
