using System.Buffers.Binary;
using System.Text.Json;

namespace LlmKit.ModelBuilder.Lora;

/// <summary>
/// A minimal reader of one <c>.safetensors</c> file (an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the data), enough for LoRA adapters: F32, F16 and BF16 tensors read as
/// float32. Every size is checked against the file before anything is allocated. Not thread-safe.
/// </summary>
internal sealed class SafetensorsFile
{
    /// <summary>Largest JSON header accepted (100 MiB, the limit the reference implementation uses).</summary>
    public const long MaxHeaderBytes = 100L << 20;

    private readonly string _path;
    private readonly long _dataStart;
    private readonly Dictionary<string, Entry> _entries;

    private SafetensorsFile(string path, long dataStart, Dictionary<string, Entry> entries)
    {
        _path = path;
        _dataStart = dataStart;
        _entries = entries;
    }

    /// <summary>The tensor names, in header order.</summary>
    public IReadOnlyCollection<string> Names => _entries.Keys;

    /// <summary>Shape of a tensor.</summary>
    public long[] Shape(string name) => _entries[name].Shape;

    /// <summary>Reads the header of <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The header is truncated, too large, not JSON, or a tensor's range or shape is inconsistent (the message names it).</exception>
    public static SafetensorsFile Open(string path)
    {
        using var stream = File.OpenRead(path);
        long fileLength = stream.Length;
        Span<byte> prefix = stackalloc byte[8];
        if (stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) < 8)
        {
            throw new InvalidDataException($"'{path}' is not a safetensors file: shorter than its 8-byte header length.");
        }

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > (ulong)MaxHeaderBytes || (long)headerLength > fileLength - 8)
        {
            throw new InvalidDataException($"'{path}': header length {headerLength} exceeds the file ({fileLength} bytes) or the {MaxHeaderBytes}-byte limit.");
        }

        var header = new byte[headerLength];
        stream.ReadExactly(header);
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        try
        {
            using var json = JsonDocument.Parse(header);
            foreach (var property in json.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    continue;
                }

                entries.Add(property.Name, ParseEntry(path, property.Name, property.Value, dataLength));
            }
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}': the header is not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidDataException($"'{path}': the header is not a JSON object of tensors: {e.Message}", e);
        }

        return new SafetensorsFile(path, dataStart, entries);
    }

    /// <summary>Reads a tensor as float32 (F16 and BF16 widened exactly).</summary>
    public float[] ReadFloat32(string name)
    {
        var entry = _entries[name];
        int count = checked((int)entry.Count);
        var bytes = new byte[entry.End - entry.Begin];
        using (var stream = File.OpenRead(_path))
        {
            stream.Position = _dataStart + entry.Begin;
            stream.ReadExactly(bytes);
        }

        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = entry.DType switch
            {
                "F32" => BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4)),
                "F16" => (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan(i * 2)),
                _ => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(i * 2)) << 16), // BF16
            };
        }

        return values;
    }

    private static Entry ParseEntry(string path, string name, JsonElement e, long dataLength)
    {
        string dtype = e.GetProperty("dtype").GetString() ?? "";
        int elementBytes = dtype switch
        {
            "F32" => 4,
            "F16" or "BF16" => 2,
            _ => throw new InvalidDataException($"'{path}': tensor '{name}' has dtype {dtype}; LoRA weights must be F32, F16 or BF16."),
        };
        var shapeElement = e.GetProperty("shape");
        if (shapeElement.GetArrayLength() > 8)
        {
            throw new InvalidDataException($"'{path}': tensor '{name}' has {shapeElement.GetArrayLength()} dimensions.");
        }

        long[] shape = [.. shapeElement.EnumerateArray().Select(d => d.GetInt64())];
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0 || d > int.MaxValue)
            {
                throw new InvalidDataException($"'{path}': tensor '{name}' has dimension {d}.");
            }

            count = d == 0 ? 0 : count > long.MaxValue / d ? long.MaxValue : count * d;
        }

        var offsets = e.GetProperty("data_offsets");
        long begin = offsets[0].GetInt64(), end = offsets[1].GetInt64();
        if (begin < 0 || end < begin || end > dataLength)
        {
            throw new InvalidDataException($"'{path}': tensor '{name}' spans bytes [{begin}, {end}) outside the {dataLength}-byte data section.");
        }

        if (count > int.MaxValue / elementBytes || end - begin != count * elementBytes)
        {
            throw new InvalidDataException($"'{path}': tensor '{name}' of shape [{string.Join(", ", shape)}] {dtype} needs {count * elementBytes} bytes but spans {end - begin}.");
        }

        return new Entry(dtype, shape, count, begin, end);
    }

    private sealed record Entry(string DType, long[] Shape, long Count, long Begin, long End);
}
