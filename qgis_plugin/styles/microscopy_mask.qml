<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.16-Białowieża" styleCategories="Symbology">
  <pipe-data-defined-properties>
    <Option type="Map">
      <Option type="QString" name="name" value=""/>
      <Option name="properties"/>
      <Option type="QString" name="type" value="collection"/>
    </Option>
  </pipe-data-defined-properties>
  <pipe>
    <provider>
      <resampling zoomedInResamplingMethod="nearestNeighbour" zoomedOutResamplingMethod="nearestNeighbour" maxOversampling="2" enabled="false"/>
    </provider>
    <rasterrenderer band="1" opacity="1" alphaBand="-1" type="paletted" nodataColor="">
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <colorPalette>
        <paletteEntry color="#000000" alpha="255" label="0 bg (non-ore)" value="0"/>
        <paletteEntry color="#ffa500" alpha="255" label="1 ccp (chalcopyrite)" value="1"/>
        <paletteEntry color="#9acd32" alpha="255" label="2 gl (galena)" value="2"/>
        <paletteEntry color="#ff4500" alpha="255" label="3 mag (magnetite)" value="3"/>
        <paletteEntry color="#00bfff" alpha="255" label="4 br (bornite)" value="4"/>
        <paletteEntry color="#a9a9a9" alpha="255" label="5 po (pyrrhotite)" value="5"/>
        <paletteEntry color="#2f4f4f" alpha="255" label="6 py (pyrite)" value="6"/>
        <paletteEntry color="#ffff00" alpha="255" label="7 pn (pentlandite)" value="7"/>
        <paletteEntry color="#ee82ee" alpha="255" label="8 sh (sphalerite)" value="8"/>
        <paletteEntry color="#556b2f" alpha="255" label="9 apy (arsenopyrite)" value="9"/>
        <paletteEntry color="#a0522d" alpha="255" label="10 gmt (hematite)" value="10"/>
        <paletteEntry color="#483d8b" alpha="255" label="11 tnt (tennantite)" value="11"/>
        <paletteEntry color="#008000" alpha="255" label="12 cv (covellite)" value="12"/>
        <paletteEntry color="#00008b" alpha="255" label="13 mrc (marcasite)" value="13"/>
        <paletteEntry color="#8b008b" alpha="255" label="14 au (native gold)" value="14"/>
      </colorPalette>
    </rasterrenderer>
    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <huesaturation colorizeOn="0" colorizeRed="255" colorizeGreen="128" colorizeBlue="128" colorizeStrength="100" saturation="0" invertColors="0" grayscaleMode="0"/>
    <rasterresampler maxOversampling="2"/>
    <resamplingStage>resamplingFilter</resamplingStage>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
