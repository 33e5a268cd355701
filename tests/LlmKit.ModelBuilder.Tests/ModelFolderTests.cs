using System.Text.Json;
using LlmKit.ModelBuilder.Onnx.Protos;
using LlmKit.Testing;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>The files of a converted folder follow the ORT GenAI conventions.</summary>
public sealed class ModelFolderTests
{
    [Fact]
    public void GenAiConfigFollowsTheOfficialSchema()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestModels.Stories260KFolder, "genai_config.json")));
        var model = doc.RootElement.GetProperty("model");
        var decoder = model.GetProperty("decoder");
        var search = doc.RootElement.GetProperty("search");

        Assert.Equal(1, model.GetProperty("bos_token_id").GetInt32());
        Assert.Equal(2, model.GetProperty("eos_token_id").GetInt32());
        Assert.Equal(512, model.GetProperty("context_length").GetInt32());
        Assert.Equal(512, model.GetProperty("vocab_size").GetInt32());
        Assert.Equal("llama", model.GetProperty("type").GetString());
        Assert.Equal("model.onnx", decoder.GetProperty("filename").GetString());
        Assert.Equal(8, decoder.GetProperty("head_size").GetInt32());
        Assert.Equal(64, decoder.GetProperty("hidden_size").GetInt32());
        Assert.Equal(8, decoder.GetProperty("num_attention_heads").GetInt32());
        Assert.Equal(5, decoder.GetProperty("num_hidden_layers").GetInt32());
        Assert.Equal(4, decoder.GetProperty("num_key_value_heads").GetInt32());
        Assert.Equal(JsonValueKind.Array, decoder.GetProperty("session_options").GetProperty("provider_options").ValueKind);
        Assert.Equal("past_key_values.%d.key", decoder.GetProperty("inputs").GetProperty("past_key_names").GetString());
        Assert.Equal("past_key_values.%d.value", decoder.GetProperty("inputs").GetProperty("past_value_names").GetString());
        Assert.Equal("position_ids", decoder.GetProperty("inputs").GetProperty("position_ids").GetString());
        Assert.Equal("present.%d.key", decoder.GetProperty("outputs").GetProperty("present_key_names").GetString());
        Assert.Equal("present.%d.value", decoder.GetProperty("outputs").GetProperty("present_value_names").GetString());
        Assert.False(search.GetProperty("do_sample").GetBoolean());
        Assert.False(search.GetProperty("past_present_share_buffer").GetBoolean());
        Assert.Equal(512, search.GetProperty("max_length").GetInt32());
        Assert.Equal(1, search.GetProperty("num_beams").GetInt32());
    }

    [Fact]
    public void TokenizerSideFilesDescribeALlamaTokenizer()
    {
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestModels.Stories260KFolder, "tokenizer_config.json")));
        using var special = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestModels.Stories260KFolder, "special_tokens_map.json")));

        Assert.True(config.RootElement.GetProperty("add_bos_token").GetBoolean());
        Assert.False(config.RootElement.GetProperty("add_eos_token").GetBoolean());
        Assert.Equal("LlamaTokenizer", config.RootElement.GetProperty("tokenizer_class").GetString());
        Assert.Equal(512, config.RootElement.GetProperty("model_max_length").GetInt32());
        Assert.False(config.RootElement.TryGetProperty("chat_template", out _));
        Assert.Equal("<s>", special.RootElement.GetProperty("bos_token").GetString());
        Assert.Equal("</s>", special.RootElement.GetProperty("eos_token").GetString());
        Assert.Equal("<unk>", special.RootElement.GetProperty("unk_token").GetString());
    }

    [Fact]
    public void GraphDeclaresSymbolicDecoderInputsAndOutputs()
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(TestModels.Stories260KFolder, "model.onnx")));
        string Shape(ValueInfoProto v) => string.Join(",", v.Type.TensorType.Shape.Dim.Select(d => d.HasDimParam ? d.DimParam : d.DimValue.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var inputs = model.Graph.Input.ToDictionary(i => i.Name, Shape);
        var outputs = model.Graph.Output.ToDictionary(o => o.Name, Shape);

        Assert.Equal("batch_size,sequence_length", inputs["input_ids"]);
        Assert.Equal("batch_size,total_sequence_length", inputs["attention_mask"]);
        Assert.Equal("batch_size,sequence_length", inputs["position_ids"]);
        Assert.Equal("batch_size,4,past_sequence_length,8", inputs["past_key_values.4.value"]);
        Assert.Equal("batch_size,sequence_length,512", outputs["logits"]);
        Assert.Equal("batch_size,4,total_sequence_length,8", outputs["present.0.key"]);
        Assert.Equal(3 + (2 * 5), inputs.Count);
        Assert.Contains(model.OpsetImport, o => o.Domain.Length == 0 && o.Version == Llama2cConverter.OnnxOpset);
        var q = model.Graph.Initializer.Single(t => t.Name == "model.layers.0.attn.q_proj.MatMul.weight");
        Assert.Equal([64L, 64L], q.Dims);
        var k = model.Graph.Initializer.Single(t => t.Name == "model.layers.0.attn.k_proj.MatMul.weight");
        Assert.Equal([64L, 32L], k.Dims); // [in, out]: pre-transposed for MatMul
    }

    [Fact]
    public void LargeWeightsGoToExternalDataWithIdenticalLogits()
    {
        var config = TestCases.GqaTied;
        var (checkpoint, tokenizer) = TestModels.SyntheticCheckpoint(config, TestCases.Seed);
        using var temp = new TempFolder();
        string output = temp.File("external");

        // Standard form, like the inline folder it is compared with (TestModels.Synthetic's default).
        var summary = Llama2cConverter.Convert(new(checkpoint, tokenizer, output, GraphForm: OnnxGraphForm.Standard) { ExternalDataThresholdBytes = 0 });

        Assert.Contains(summary.Files, f => f.Name == Llama2cConverter.ExternalDataFileName && f.Bytes >= config.ParameterCount * 4);
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(output, "model.onnx")));
        Assert.All(proto.Graph.Initializer.Where(t => t.Dims.Count > 0 && t.RawData.Length == 0 && t.Int64Data.Count == 0 && t.FloatData.Count == 0),
            t => Assert.Equal(TensorProto.Types.DataLocation.External, t.DataLocation));
        Assert.True(new FileInfo(Path.Combine(output, "model.onnx")).Length < 64 * 1024, "model.onnx should hold only the graph");

        int[] prompt = [1, 40, 41, 42, 43, 44];
        using var external = new OrtDecoder(output);
        using var inline = new OrtDecoder(TestModels.Synthetic(config, TestCases.Seed));
        Assert.Equal(inline.Prefill(prompt).Logits, external.Prefill(prompt).Logits);
    }

    [Fact]
    public void MaxLengthSetsTheContextAndTheRopeTables()
    {
        using var temp = new TempFolder();
        string output = temp.File("short");

        var summary = Llama2cConverter.Convert(new(SharedFixtures.Stories260KCheckpoint, SharedFixtures.Stories260KTokenizer, output, MaxLength: 64));

        Assert.Equal(64, summary.ContextLength);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "genai_config.json")));
        Assert.Equal(64, doc.RootElement.GetProperty("model").GetProperty("context_length").GetInt32());
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(output, "model.onnx")));
        Assert.Equal([64L, 4L], proto.Graph.Initializer.Single(t => t.Name == "cos_cache").Dims);
    }
}
