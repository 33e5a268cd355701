using System.Buffers.Binary;
using System.Text;
using LlmKit.ModelBuilder.HuggingFace;

namespace LlmKit.ModelBuilder.Tests.HuggingFace;

/// <summary>The safetensors reader reads what transformers writes and refuses malformed or hostile files before allocating.</summary>
public sealed class SafetensorsReaderTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("F32")]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void Each_dtype_widens_to_the_float_it_encodes(string dtype)
    {
        float[] values = [0f, 1f, -2.5f, 0.15625f, 65504f, -0.0009765625f];
        byte[] data = dtype switch
        {
            "F32" => [.. values.SelectMany(BitConverter.GetBytes)],
            "F16" => [.. values.SelectMany(v => BitConverter.GetBytes(BitConverter.HalfToUInt16Bits((Half)v)))],
            _ => [.. values.SelectMany(v => BitConverter.GetBytes((ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)))], // bfloat16 by truncation
        };
        int bytes = data.Length;
        string path = Write("t.safetensors", $"{{\"w\":{{\"dtype\":\"{dtype}\",\"shape\":[2,3],\"data_offsets\":[0,{bytes}]}}}}", data);

        var file = SafetensorsFile.Open(path);
        var tensor = file.Tensors["w"];
        var read = new float[6];
        SafetensorsFile.ReadFloat32(tensor, read);

        // Every value above is exact in float16; bfloat16 loses low mantissa bits of some (65504), so its expectation is
        // the truncated float32 pattern: widening must put the 16 stored bits back on top.
        float[] expected = dtype == "BF16" ? [.. values.Select(v => BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(v) & 0xFFFF0000))] : values;
        Assert.Equal(expected, read);
        Assert.Equal([2L, 3L], tensor.Shape);
    }

    [Fact]
    public void A_file_shorter_than_the_length_prefix_is_refused()
    {
        string path = _dir.File("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        var ex = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains("8-byte header length", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_huge_header_length_is_refused_before_allocating()
    {
        string path = _dir.File("huge.safetensors");
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1UL << 40);
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains("limit", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_longer_than_the_file_is_a_truncated_file()
    {
        string path = _dir.File("cut.safetensors");
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_data_section_is_refused_naming_the_tensor()
    {
        // The header promises 24 bytes; only 8 follow.
        string path = Write("trunc.safetensors", "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,24]}}", new byte[8]);
        var ex = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains("model.norm.weight", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[0,4000000000000]")] // far past the end
    [InlineData("[16,8]")]             // end before begin
    [InlineData("[0,12]")]             // does not match shape [4] of F32 (16 bytes)
    [InlineData("[-8,8]")]             // negative
    public void Offsets_out_of_range_are_refused(string offsets)
    {
        string path = Write("bad.safetensors", $"{{\"w\":{{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":{offsets}}}}}", new byte[16]);
        Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
    }

    [Fact]
    public void Overlapping_tensors_are_refused()
    {
        string header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
        var ex = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(Write("overlap.safetensors", header, new byte[16])));
        Assert.Contains("overlap", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unsupported_dtype_is_refused_naming_it()
    {
        string path = Write("i64.safetensors", "{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", new byte[16]);
        var ex = Assert.Throws<NotSupportedException>(() => SafetensorsFile.Open(path));
        Assert.Contains("I64", ex.Message, StringComparison.Ordinal);
        Assert.Contains("F32, F16 and BF16", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_that_is_not_json_is_refused()
    {
        var ex = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(Write("junk.safetensors", "not json at all!", [])));
        Assert.Contains("JSON", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../outside.safetensors")]
    [InlineData("sub/inner.safetensors")]
    [InlineData("/tmp/outside.safetensors")]
    [InlineData("..")]
    public void A_shard_name_escaping_the_folder_is_refused(string shard)
    {
        // A real safetensors file sits where the name points, so only the name check can stop it.
        string folder = Path.Combine(_dir.Path, "checkpoint");
        Directory.CreateDirectory(Path.Combine(folder, "sub"));
        string valid = Path.Combine(_dir.Path, "outside.safetensors");
        byte[] file = Encode("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]);
        File.WriteAllBytes(valid, file);
        File.WriteAllBytes(Path.Combine(folder, "sub", "inner.safetensors"), file);
        File.WriteAllText(Path.Combine(folder, SafetensorsCheckpoint.IndexFileName), $"{{\"metadata\":{{}},\"weight_map\":{{\"w\":\"{shard}\"}}}}");

        var ex = Assert.Throws<InvalidDataException>(() => SafetensorsCheckpoint.Open(folder));
        Assert.Contains("shards must sit beside the index", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_shard_that_links_out_of_the_folder_is_refused()
    {
        string folder = Path.Combine(_dir.Path, "linked");
        Directory.CreateDirectory(folder);
        string outside = Path.Combine(_dir.Path, "outside.safetensors");
        File.WriteAllBytes(outside, Encode("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]));
        File.CreateSymbolicLink(Path.Combine(folder, "model-00001-of-00001.safetensors"), outside);
        File.WriteAllText(Path.Combine(folder, SafetensorsCheckpoint.IndexFileName), "{\"weight_map\":{\"w\":\"model-00001-of-00001.safetensors\"}}");

        var ex = Assert.Throws<InvalidDataException>(() => SafetensorsCheckpoint.Open(folder));
        Assert.Contains("outside", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sharded_checkpoint_reads_the_same_tensors_as_the_single_file()
    {
        var (shape, _, _) = HfCases.All["llama"];
        string single = Path.Combine(_dir.Path, "single"), sharded = Path.Combine(_dir.Path, "sharded");
        HfCheckpointSynthesizer.Write(single, shape, seed: 3);
        HfCheckpointSynthesizer.Write(sharded, shape, seed: 3, sharded: true);
        var a = SafetensorsCheckpoint.Open(single);
        var b = SafetensorsCheckpoint.Open(sharded);

        Assert.Equal(2, b.Files.Count);
        Assert.Equal(a.Names.Order(), b.Names.Order());
        foreach (string name in a.Names)
        {
            var t = a.Tensor(name);
            Assert.Equal(a.ReadFloat32(name, t.Shape), b.ReadFloat32(name, t.Shape));
        }
    }

    private string Write(string name, string header, byte[] data)
    {
        string path = _dir.File(name);
        File.WriteAllBytes(path, Encode(header, data));
        return path;
    }

    private static byte[] Encode(string header, byte[] data)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Length);
        return bytes;
    }
}
