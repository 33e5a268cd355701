using System.Runtime.InteropServices;
using System.Text;

namespace LlmKit.Benchmarks.Peers;

/// <summary>
/// A minimal writer of GGUF version 3 files (the llama.cpp / ggml model format), written from the format description
/// in ggml's <c>docs/gguf.md</c>: a header (magic "GGUF", version, tensor count, metadata count), the metadata
/// key-value pairs, the tensor infos (name, dimensions innermost first, ggml type, offset into the data section), zero
/// padding to the alignment, then the tensor data, each tensor starting at a multiple of the alignment. Little-endian
/// only, F32 tensors only (quantised files are made from the F32 file by llama.cpp itself). Bench code.
/// </summary>
internal sealed class GgufFile
{
    /// <summary>The alignment of the data section and of every tensor in it (GGUF's default; also written as general.alignment).</summary>
    public const int Alignment = 32;

    private const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint32
    private const uint Version = 3;
    private const uint GgmlTypeF32 = 0;

    private readonly List<(string Key, Action<BinaryWriter> WriteValue)> _metadata = [];
    private readonly List<(string Name, long[] Dims, ReadOnlyMemory<float> Data)> _tensors = [];

    public GgufFile()
    {
        AddUInt32("general.alignment", Alignment);
    }

    /// <summary>GGUF metadata value types.</summary>
    private enum ValueType : uint
    {
        UInt32 = 4,
        Int32 = 5,
        Float32 = 6,
        String = 8,
        Array = 9,
    }

    public void AddUInt32(string key, uint value) => _metadata.Add((key, w => { w.Write((uint)ValueType.UInt32); w.Write(value); }));

    public void AddFloat32(string key, float value) => _metadata.Add((key, w => { w.Write((uint)ValueType.Float32); w.Write(value); }));

    public void AddString(string key, string value) => _metadata.Add((key, w => { w.Write((uint)ValueType.String); WriteString(w, value); }));

    public void AddStringArray(string key, IReadOnlyList<string> values) => _metadata.Add((key, w =>
    {
        w.Write((uint)ValueType.Array);
        w.Write((uint)ValueType.String);
        w.Write((ulong)values.Count);
        foreach (string value in values)
        {
            WriteString(w, value);
        }
    }));

    public void AddFloat32Array(string key, IReadOnlyList<float> values) => _metadata.Add((key, w =>
    {
        w.Write((uint)ValueType.Array);
        w.Write((uint)ValueType.Float32);
        w.Write((ulong)values.Count);
        foreach (float value in values)
        {
            w.Write(value);
        }
    }));

    public void AddInt32Array(string key, IReadOnlyList<int> values) => _metadata.Add((key, w =>
    {
        w.Write((uint)ValueType.Array);
        w.Write((uint)ValueType.Int32);
        w.Write((ulong)values.Count);
        foreach (int value in values)
        {
            w.Write(value);
        }
    }));

    /// <summary>Adds an F32 tensor. <paramref name="dims"/> are ggml's ne: innermost (contiguous) first, so a row-major
    /// [rows, columns] matrix is <c>[columns, rows]</c>.</summary>
    public void AddTensor(string name, long[] dims, ReadOnlyMemory<float> data)
    {
        long count = dims.Aggregate(1L, (a, b) => a * b);
        if (count != data.Length)
        {
            throw new ArgumentException($"tensor {name}: dims [{string.Join(", ", dims)}] hold {count} values, data has {data.Length}.", nameof(data));
        }

        _tensors.Add((name, dims, data));
    }

    /// <summary>Writes the file (to a temporary name first, then moved into place).</summary>
    public void Write(string path)
    {
        string temporary = path + ".partial";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write((ulong)_tensors.Count);
            w.Write((ulong)_metadata.Count);
            foreach (var (key, writeValue) in _metadata)
            {
                WriteString(w, key);
                writeValue(w);
            }

            long offset = 0;
            foreach (var (name, dims, data) in _tensors)
            {
                WriteString(w, name);
                w.Write((uint)dims.Length);
                foreach (long d in dims)
                {
                    w.Write((ulong)d);
                }

                w.Write(GgmlTypeF32);
                w.Write((ulong)offset);
                offset = AlignUp(offset + (data.Length * sizeof(float)));
            }

            Pad(w);
            long dataStart = stream.Position;
            foreach (var (_, _, data) in _tensors)
            {
                w.Flush();
                stream.Write(MemoryMarshal.AsBytes(data.Span));
                Pad(w, dataStart);
            }
        }

        File.Move(temporary, path, overwrite: true);
    }

    private static long AlignUp(long value) => (value + Alignment - 1) / Alignment * Alignment;

    private static void Pad(BinaryWriter w, long origin = 0)
    {
        w.Flush();
        long position = w.BaseStream.Position - origin;
        for (long i = position; i < AlignUp(position); i++)
        {
            w.Write((byte)0);
        }
    }

    private static void WriteString(BinaryWriter w, string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }
}
